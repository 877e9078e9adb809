package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/failback/failback/config"
	"github.com/failback/failback/lab"
	"github.com/failback/failback/workflow"
)

// newLabCommand is "failback lab", the command table's entry (cli.go).
func newLabCommand() Command {
	return Command{Name: "lab", Summary: "build, inspect or remove a complete failback drill lab on this machine", Run: runLab}
}

// openConsole opens the console on a config file (cmd_console.go); tests
// replace it. While it is nil, lab up prints the next commands instead.
var openConsole = consoleOnConfig

const labUsage = `lab up [--dir DIR] [--vms N] [--hosts N] [--disk-size SIZE] [--seed N] [--write-rate N]
                   [--fresh] [--no-console]

Builds a complete failback drill on this machine and starts it:
  - the lab's Azure: an ARM endpoint on loopback (the Azure SDK's own
    requests: VMs, managed disks, snapshots and their SAS grants, NICs,
    public IPs) and a storage account (Azurite, installed with npm on
    first use, behind a blob front);
  - lab Azure VMs in two recovery plans on managed disks (db01 has a data
    disk), but for app01, whose encrypted disk is a page blob; running and
    writing to their disks (now and then trimming) until they are shut
    down;
  - lab Hyper-V hosts (folders): hv01, the original host, holds each VM's
    disks as of the failover (with --hosts N the VMs are spread over hv01
    and hv04, hv05, ...: a plan then moves on all of them at once, each
    host through its own mover); hv02 is an alternate host; hv03 lacks the
    VMs' switch;
  - DIR/config.toml for all of it.
Then it opens the console on DIR/config.toml (when the output is a terminal
and --no-console is not given). A healthy lab already in DIR is reused;
--fresh replaces it. 'failback lab down' stops it and removes DIR.

With the defaults it takes under 10 seconds (the first time also an npm
install of Azurite, about 40 s) and about 0.5 GiB of disk; Azurite's data
then grows by what the Azure VMs write (some 65 MiB an hour per VM at the
default rate), so take the lab down when the drill is over.`

func runLab(ctx context.Context, s Stdio, args []string) error {
	if len(args) > 0 && args[0] == "vms" {
		// Not listed: the lab's Azure process that lab up starts.
		return runLabVMs(ctx, s, args[1:])
	}
	return dispatch(ctx, s, "lab", args, []Command{
		{Name: "up", Summary: "build and start the lab (or reuse a healthy one), then open the console", Run: runLabUp},
		{Name: "status", Summary: "say what runs in the lab", Run: runLabStatus},
		{Name: "down", Summary: "stop the lab's processes and remove the lab folder", Run: runLabDown},
	})
}

func labDirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", lab.DefaultDir, "the lab folder `DIR`")
}

func runLabUp(ctx context.Context, s Stdio, args []string) error {
	fs := newFlags(s, "lab up", labUsage)
	dir := labDirFlag(fs)
	vms := fs.Int("vms", lab.DefaultVMs, fmt.Sprintf("number of VMs (%d to %d)", lab.MinVMs, lab.MaxVMs))
	hosts := fs.Int("hosts", 1, fmt.Sprintf("original Hyper-V hosts to spread the VMs over (1 to %d), each with its own mover", lab.MaxHosts))
	diskSize := fs.String("disk-size", fmt.Sprintf("%dM", lab.DefaultDiskSize>>20), "virtual `SIZE` of each disk (whole MiB, 64M to 64G)")
	seed := fs.Uint64("seed", 1, "seed of the disks' content (the same seed gives the same disks)")
	rate := fs.Float64("write-rate", lab.DefaultWriteRate, "writes a second of each running Azure VM (4-32 KiB each)")
	fresh := fs.Bool("fresh", false, "replace a healthy lab instead of reusing it")
	noConsole := fs.Bool("no-console", false, "do not open the console; print the next commands")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("lab up takes no arguments (got %q)", rest[0])
	}
	size, err := parseSize(*diskSize)
	if err != nil {
		return usagef("--disk-size: %v", err)
	}
	m, reused, err := lab.Up(ctx, lab.Options{
		Dir: *dir, VMs: *vms, Hosts: *hosts, DiskSize: size, Seed: *seed, WritesPerSecond: *rate,
		Fresh: *fresh, Progress: s.Out,
	})
	if err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	if reused {
		fmt.Fprintf(s.Out, "A healthy lab already runs in %s; reusing it ('failback lab up --fresh' replaces it).\n", m.Dir)
		lab.Inspect(ctx, m).Print(s.Out)
	}
	access, err := lab.SSHAccess(m, shortLabPath)
	if err != nil {
		fmt.Fprintf(s.Err, "failback: the lab's SSH keys: %v\n", err)
	}
	fmt.Fprint(s.Out, access)
	return labReady(ctx, s, m, *noConsole)
}

// labReady opens the console on the lab when the output is a terminal
// (and the console is built in), else prints the commands to run next.
func labReady(ctx context.Context, s Stdio, m *lab.Manifest, noConsole bool) error {
	if !noConsole && isTerminal(s.Out) && openConsole != nil {
		return openConsole(ctx, s, m.Path(m.Config))
	}
	printLabNextSteps(s.Out, m)
	return nil
}

// printLabNextSteps says what to run next, with the lab's own paths.
func printLabNextSteps(w io.Writer, m *lab.Manifest) {
	cmd := programName()
	cfg := shortLabPath(m.Path(m.Config))
	thumb := ""
	for _, c := range m.Certs {
		if c.Unlocks {
			thumb = c.Thumbprint
		}
	}
	dirFlag := ""
	if d := shortLabPath(m.Dir); d != lab.DefaultDir {
		dirFlag = " --dir " + d
	}
	fmt.Fprintf(w, `
Next steps:
  %[1]s --config %[2]s
      open the console on the lab
  %[1]s run --config %[2]s --plan %[3]s --sync delta --yes
      fail back db01, then web01 and web02, to hv01 while the Azure VMs keep
      running (phase 1 and catch-up); the last line printed is the job id
  %[1]s complete --config %[2]s JOB
      shut the Azure VMs down, sync the last changes, start the VMs on hv01
  %[1]s commit --config %[2]s --yes JOB
      delete the Azure VMs with their NICs and public IPs (the managed disks
      stay): the failback is done
  %[1]s run --config %[2]s --plan %[4]s --sync delta --cert %[5]s --yes
      the plan with the encrypted VM (the certificate is in %[6]s)
  %[1]s run --config %[2]s --plan %[3]s --sync full --location alternate --host %[7]s --create-vm --dry-run
      an alternate host without the VMs' switch: the check refuses it
  %[1]s serve --config %[2]s
      drive the lab's jobs here and serve the console over SSH (the console
      lab up opens on a terminal serves it too); log in from another
      terminal with ssh -t -p %[10]s 127.0.0.1
  %[1]s lab status%[8]s     what runs
  %[1]s lab down%[8]s       stop everything and remove %[9]s
`, cmd, cfg, lab.PlanTier1, lab.PlanTier2, thumb, shortLabPath(m.Path("certs")), lab.HostWrongSwitch, dirFlag, shortLabPath(m.Dir),
		lab.SSHListen[strings.LastIndexByte(lab.SSHListen, ':')+1:])
}

// programName is how the user runs failback: "go run ." when this binary
// is go run's temporary build, else the program's name.
func programName() string {
	exe, err := os.Executable()
	if err == nil && strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ."
	}
	return "failback"
}

func shortLabPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func runLabStatus(ctx context.Context, s Stdio, args []string) error {
	fs := newFlags(s, "lab status", "lab status [--dir DIR] [--json]\n\nSays what runs in the lab: Azurite, the lab's Azure (its blob front and ARM\nendpoint, and whether they answer), each Azure VM's state, writes and disks,\nthe lab hosts. Exit code 0: healthy; 1: no lab or not healthy.")
	dir := labDirFlag(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	m, err := lab.ReadManifest(abs)
	if err != nil {
		if errors.Is(err, lab.ErrNoLab) {
			return &ExitError{Code: 1, Err: fmt.Errorf("no lab in %s; 'failback lab up --dir %s' builds one", abs, *dir)}
		}
		return err
	}
	st := lab.Inspect(ctx, m)
	if *asJSON {
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(s.Out, string(b))
	} else {
		st.Print(s.Out)
	}
	if !st.Healthy {
		return &ExitError{Code: 1}
	}
	return nil
}

func runLabDown(ctx context.Context, s Stdio, args []string) error {
	fs := newFlags(s, "lab down", "lab down [--dir DIR]\n\nStops the lab's Azure (ARM endpoint, blob front, VM writers) and Azurite\nand removes the lab folder.")
	dir := labDirFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(s.Out, "No lab in %s: nothing to do.\n", abs)
		return nil
	}
	if err := labDriven(ctx, abs); err != nil {
		return err
	}
	if err := lab.Down(ctx, abs); err != nil {
		return fmt.Errorf("lab down: %w", err)
	}
	fmt.Fprintf(s.Out, "Lab in %s stopped and removed.\n", abs)
	return nil
}

// runLabVMs is the lab's Azure process (lab.RunAzure): the blob front,
// the ARM endpoint and the VM writers, until it is told to stop (SIGTERM
// from lab down).
func runLabVMs(ctx context.Context, s Stdio, args []string) error {
	fs := newFlags(s, "lab vms", "lab vms --dir DIR   (the lab's Azure process, started by lab up; not for direct use)")
	dir := fs.String("dir", "", "the lab folder `DIR`")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("lab vms needs --dir")
	}
	return lab.RunAzure(ctx, *dir, s.Err)
}

// labDriven refuses to take a lab down while a failback process (a
// console, failback serve, a script command) drives its jobs: their
// journals and disks are in the folder lab down removes.
func labDriven(ctx context.Context, dir string) error {
	m, err := lab.ReadManifest(dir)
	if err != nil {
		return nil // no lab, or a damaged one: lab down says so
	}
	cfg, err := config.Load(m.Path(m.Config))
	if err != nil || cfg.StateDir == "" {
		return nil
	}
	c, err := workflow.Dial(ctx, cfg.StateDir)
	if err != nil {
		return nil
	}
	defer c.Close()
	pid, cmd := c.Driver()
	return &ExitError{Code: exitRefused, Err: fmt.Errorf("process %d (%s) drives the lab's jobs in %s: quit it first (q in its console, Ctrl-C for failback serve), then run lab down again", pid, cmd, cfg.StateDir)}
}

package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/internal/wire"
	"github.com/failback/failback/mover"
)

// newMoverCommand is "failback mover", the command table's entry (cli.go).
func newMoverCommand() Command {
	return Command{Name: "mover", Summary: "put failback's mover on a Hyper-V host, or check it (it writes the disks there)", Run: runMover}
}

const moverUsage = `mover install --host NAME [--binary FILE] [--config FILE]
       failback mover check [--host NAME] [--config FILE]
       failback mover serve --state-dir DIR        (started by a driver, not by people)

The mover runs on each Hyper-V host whose [[host]] has data_path = "mover"
(the default): it reads the Azure snapshots the console hands it and writes
the host's disks there, with the undo and resume journals in mover_dir's
state folder, so the disk bytes never cross this machine.

install copies this failback's build for the host's system (windows/amd64
for a Windows mover_dir: failback-windows-amd64.exe beside this program, or
--binary FILE, built from the same commit) to mover_dir over SFTP on the
host's SSH connection, starts it there and checks what it reports. Every
later session checks the host still runs that very file (build and hash).
Lab and local hosts need none: their mover is this program.

check starts each mover (or the one of --host) and says its build, its
system, where it keeps its journals and the room there.`

func runMover(ctx context.Context, s Stdio, args []string) error {
	if len(args) == 0 {
		return usagef("mover: say what to do\nUsage: failback %s", moverUsage)
	}
	switch args[0] {
	case "serve":
		return mover.Main(ctx, args[1:], s.In, s.Out, s.Err)
	case "install":
		return runMoverInstall(ctx, s, args[1:])
	case "check":
		return runMoverCheck(ctx, s, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintf(s.Err, "Usage: failback %s\n", moverUsage)
		return nil
	}
	return usagef("mover: unknown subcommand %q\nUsage: failback %s", args[0], moverUsage)
}

func runMoverInstall(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "mover install", moverUsage)
	cfgPath := configFlag(fl)
	host := fl.String("host", "", "the [[host]] `NAME` to install on")
	binary := fl.String("binary", "", "the failback build `FILE` for the host's system")
	if _, err := parse(fl, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	h, err := moverHost(cfg, *host)
	if err != nil {
		return err
	}
	if h.Transport != config.TransportSSH {
		return fmt.Errorf("host %s (transport = %q) runs this program as its mover: nothing to install", h.Name, h.Transport)
	}
	bin := *binary
	if bin == "" {
		goos, goarch := mover.HostSystem(h.MoverProgram())
		if bin, err = mover.DefaultBinary(goos, goarch); err != nil {
			return err
		}
	}
	_, r, release, err := wire.Connect(h)
	if err != nil {
		return err
	}
	defer release()
	fmt.Fprintf(s.Err, "copying %s to %s:%s\n", bin, h.Name, h.MoverProgram())
	in, err := mover.Install(ctx, r, mover.InstallOptions{Host: h.Name, Binary: bin, Program: h.MoverProgram(),
		StateDir: h.MoverStateDir(), DriverState: cfg.StateDir})
	if err != nil {
		return fmt.Errorf("install the mover on %s: %w", h.Name, err)
	}
	fmt.Fprintf(s.Out, "%s: mover %s installed at %s (%s/%s, SHA-256 %s)\n", h.Name, in.Build, in.Program, in.OS, in.Arch, in.SHA256)
	return nil
}

func runMoverCheck(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "mover check", moverUsage)
	cfgPath := configFlag(fl)
	host := fl.String("host", "", "check only this [[host]] `NAME`")
	if _, err := parse(fl, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var hosts []*config.Host
	if *host != "" {
		h, err := moverHost(cfg, *host)
		if err != nil {
			return err
		}
		hosts = append(hosts, h)
	} else {
		for i := range cfg.Hosts {
			if cfg.Hosts[i].UsesMover() {
				hosts = append(hosts, &cfg.Hosts[i])
			}
		}
	}
	var failed []string
	for _, h := range hosts {
		if err := checkMover(ctx, s, cfg, h); err != nil {
			fmt.Fprintf(s.Out, "%s: %v\n", h.Name, err)
			failed = append(failed, h.Name)
		}
	}
	if len(failed) > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("the mover of %s did not pass", failed)}
	}
	return nil
}

// checkMover starts one host's mover and says what it is.
func checkMover(ctx context.Context, s Stdio, cfg *config.Config, h *config.Host) error {
	_, r, release, err := wire.Connect(h)
	if err != nil {
		return err
	}
	defer release()
	c, err := wire.Mover(cfg.StateDir, h, r)
	if err != nil {
		return err
	}
	defer c.Close()
	hello, err := c.Hello(ctx)
	if err != nil {
		return err
	}
	sp, err := c.StateSpace(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "%s: mover %s (%s/%s) answers; journals in %s, %s free on %s\n", h.Name, hello.Build, hello.OS, hello.Arch,
		hello.StateDir, units.Bytes(sp.Free), sp.Volume)
	return nil
}

// moverHost is the [[host]] named name, which must write through a mover.
func moverHost(cfg *config.Config, name string) (*config.Host, error) {
	if name == "" {
		return nil, usagef("name the host with --host")
	}
	h := cfg.Host(name)
	switch {
	case h == nil:
		return nil, fmt.Errorf("no [[host]] named %q in %s", name, cfg.File)
	case !h.UsesMover():
		return nil, errors.New("host " + name + " has data_path = \"share\": this machine writes its disks, no mover runs there")
	}
	return h, nil
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/workflow"
)

// newRunCommand is "failback run", the command table's entry (cli.go).
func newRunCommand() Command {
	return Command{Name: "run", Summary: "start a failback job (pre-flight, phase 1 and catch-up, or a full download) and drive it until it needs the operator", Run: runRun}
}

const runUsage = `run (--plan NAME | --vm NAME) --sync delta|full [--location original|alternate]
           [--host HOST] [--create-vm] [--map-switch SWITCH=HOSTSWITCH]... [--discard-saved-state]
           [--cert THUMBPRINT] [` + crypt.AllowExpiredFlag + `] [--dry-run] [--yes] [--json] [--quiet]
       failback run (--plan NAME | --vm NAME) --test [--host HOST] [--switch SWITCH] [--copy] ...

Fails a recovery plan (or one VM) back from Azure to on-premises Hyper-V.
It runs the pre-flight (every problem at once; nothing is written unless
every check passes), then drives the job in this process, or through the
process that already drives this state folder (failback serve, a console),
until it needs the operator:
  --sync delta  phase 1 and the catch-up passes run while the Azure VMs keep
                running; the job then waits "ready-to-complete" for
                'failback complete JOB' (the short downtime).
  --sync full   the Azure VMs are shut down and every disk downloaded; the
                job ends "pending-commit" with the on-premises VMs running.
--map-switch connects, at an alternate host, the adapters of a switch that
host lacks to one it has. --discard-saved-state accepts that an on-premises
VM found Saved or Paused is turned off when the job starts, its memory
state discarded (it would otherwise resume memory older than its disks).
The job id is the last line of stdout, also when the job fails.
--test runs a test failback, a drill that never stops production: phase 1
and the catch-up passes write test disks (differencing disks over the VMs'
own disks, which are only read; --copy copies them instead), the final pass
is run and timed with the Azure VMs running, then a test VM per VM
(NAME-test) starts on --host (default: the VM's own host) with every
adapter on --switch (default: a private switch failback-test-PLAN the test
creates) and is checked (running, heartbeat, the VM's test_ports). The job
ends "testing"; 'failback status JOB' shows the test's report (--json: its
"test" field), 'failback end-test JOB' removes the test VMs, disks and the
switch it created. A test never completes, commits or reverses.
--dry-run prints, per disk, the bytes to check, an estimate of the bytes to
transfer and the recommended sync option, runs the pre-flight, and changes
nothing. Without --dry-run, --yes is required: scripts must confirm.` + exitCodesHelp

type runFlags struct {
	plan, vm, sync, location, host, cert *string
	createVM, allowExpired, dryRun, yes  *bool
	asJSON, quiet, discardSaved          *bool
	switchMap                            map[string]string
	test, testCopy                       *bool
	testSwitch                           *string
}

func runRun(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "run", runUsage)
	file := configFlag(fl)
	f := runFlags{
		plan:         fl.String("plan", "", "the recovery plan to fail back"),
		vm:           fl.String("vm", "", "one VM to fail back instead of a plan"),
		sync:         fl.String("sync", "", "`delta` (synchronize before failover) or full (during failover only)"),
		location:     fl.String("location", "original", "`original` (the VM's own host and disks) or alternate (--host)"),
		host:         fl.String("host", "", "the alternate `HOST` (a [[host]] name); with --test, the host of the test VMs"),
		createVM:     fl.Bool("create-vm", false, "create the on-premises VM if it does not exist"),
		cert:         fl.String("cert", "", "`THUMBPRINT` of the certificate that unlocks encrypted disks"),
		allowExpired: fl.Bool(strings.TrimPrefix(crypt.AllowExpiredFlag, "--"), false, "accept an expired certificate"),
		dryRun:       fl.Bool("dry-run", false, "print what would move and the pre-flight; change nothing"),
		yes:          fl.Bool("yes", false, "confirm: start the failback"),
		asJSON:       fl.Bool("json", false, "print the result as JSON on stdout (before the job id line)"),
		quiet:        fl.Bool("quiet", false, "no progress on stderr"),
		discardSaved: fl.Bool("discard-saved-state", false, "turn off Saved or Paused on-premises VMs when the job starts, discarding their memory state"),
		switchMap:    map[string]string{},
		test:         fl.Bool("test", false, "a test failback: test disks and test VMs; the Azure VMs keep running, nothing on premises is overwritten"),
		testCopy:     fl.Bool("copy", false, "with --test: copy the disks instead of making differencing disks over them"),
		testSwitch:   fl.String("switch", "", "with --test: the isolated `SWITCH` of the test VMs (default: a private switch the test creates)"),
	}
	fl.Func("map-switch", "`SWITCH=HOSTSWITCH`: at the alternate host, connect the adapters of SWITCH to HOSTSWITCH (repeatable)", func(v string) error {
		from, to, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(from) == "" || strings.TrimSpace(to) == "" {
			return fmt.Errorf("want SWITCH=HOSTSWITCH, got %q", v)
		}
		f.switchMap[from] = to
		return nil
	})
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	c, err := runChoices(f, pos)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	printWarnings(s.Err, cfg)
	if err := knownNames(cfg, c); err != nil {
		return err
	}
	if *f.dryRun {
		svc, done, err := openWorkflow(ctx, cfg, wireOptions{Command: "failback run --dry-run"})
		if err != nil {
			return err
		}
		defer done()
		return dryRun(ctx, s, svc, c, *f.asJSON)
	}
	if !*f.yes {
		return usagef("run starts a failback: add --yes to confirm (scripts must confirm), or --dry-run to see what it would do")
	}
	svc, done, err := openWorkflow(ctx, cfg, wireOptions{Command: "failback run " + strings.Join(args, " ")})
	if err != nil {
		return err
	}
	defer done()
	if c, ok := svc.(*workflow.Client); ok && !*f.quiet {
		pid, cmd := c.Driver()
		fmt.Fprintf(s.Err, "going through process %d (%s), which drives this state folder\n", pid, cmd)
	}
	id, err := svc.Start(ctx, c, cliActor())
	if err != nil {
		var pe *workflow.PreflightError
		if errors.As(err, &pe) {
			if *f.asJSON {
				_ = json.NewEncoder(s.Out).Encode(pe.Report)
			}
			return &ExitError{Code: exitRefused, Err: preflightFailure(pe.Report)}
		}
		return refused(err)
	}
	if !*f.quiet {
		fmt.Fprintf(s.Err, "job %s started\n", id)
	}
	want := workflow.StateReady
	switch {
	case c.Test:
		want = workflow.StateTesting
	case c.Sync == workflow.SyncFull:
		want = workflow.StatePendingCommit
	}
	v, werr := waitJob(ctx, svc, id, newWatcher(s.Err, *f.quiet), func(v workflow.JobView) bool { return v.State == want })
	if *f.asJSON {
		b, _ := json.Marshal(v)
		fmt.Fprintln(s.Out, string(b))
	}
	fmt.Fprintln(s.Out, id)
	if werr == nil && !*f.quiet {
		next := "failback complete " + id + " (shuts the Azure VMs down: the downtime)"
		switch want {
		case workflow.StatePendingCommit:
			next = "check the on-premises VMs, then failback commit --yes " + id + " (or failback undo --yes " + id + ")"
		case workflow.StateTesting:
			next = "check the test VMs (failback status " + id + " shows the report), then failback end-test " + id
		}
		fmt.Fprintf(s.Err, "job %s is %s; next: %s\n", id, v.State, next)
	}
	return werr
}

// runChoices checks the flags and turns them into choices.
func runChoices(f runFlags, pos []string) (workflow.Choices, error) {
	c := workflow.Choices{Plan: *f.plan, VM: *f.vm, Direction: workflow.DirAzureToOnPrem,
		Location: workflow.Location(*f.location), AltHost: *f.host, CreateVM: *f.createVM,
		Sync: workflow.SyncOption(*f.sync), CertThumbprint: *f.cert, AllowExpiredCert: *f.allowExpired,
		DiscardSavedState: *f.discardSaved}
	if len(f.switchMap) > 0 {
		c.SwitchMap = f.switchMap
	}
	if *f.test {
		return testRunChoices(c, f, pos)
	}
	switch {
	case *f.testCopy || *f.testSwitch != "":
		return c, usagef("--copy and --switch go with --test")
	case len(pos) > 0:
		return c, usagef("run takes flags only (got %q): name the plan with --plan or the VM with --vm", pos[0])
	case (c.Plan == "") == (c.VM == ""):
		return c, usagef("name exactly one of --plan NAME or --vm NAME ('failback plans' lists them)")
	case c.Sync != workflow.SyncDelta && c.Sync != workflow.SyncFull:
		return c, usagef("--sync delta or --sync full is required (--dry-run recommends one)")
	case c.Location != workflow.LocOriginal && c.Location != workflow.LocAlternate:
		return c, usagef("--location is original or alternate, not %q", c.Location)
	case c.Location == workflow.LocAlternate && c.AltHost == "":
		return c, usagef("--location alternate needs --host HOST")
	case c.Location == workflow.LocOriginal && c.AltHost != "":
		return c, usagef("--host is for --location alternate")
	case c.Location == workflow.LocOriginal && len(c.SwitchMap) > 0:
		return c, usagef("--map-switch is for --location alternate (the original host has the VMs' switches)")
	}
	if c.CertThumbprint != "" {
		t, err := crypt.NormalizeThumbprint(c.CertThumbprint)
		if err != nil {
			return c, usagef("--cert: %v", err)
		}
		c.CertThumbprint = t
	}
	return c, nil
}

// knownNames refuses (exit 3, nothing done) a plan, VM or host that
// config.toml does not define, naming the ones it does.
func knownNames(cfg *config.Config, c workflow.Choices) error {
	var kind, name, list string
	var names []string
	switch {
	case c.Plan != "" && cfg.Plan(c.Plan) == nil:
		kind, name, list = "[[plan]]", c.Plan, "failback plans"
		for _, p := range cfg.Plans {
			names = append(names, p.Name)
		}
	case c.VM != "" && cfg.VM(c.VM) == nil:
		kind, name, list = "[[vm]]", c.VM, "failback plans"
		for _, v := range cfg.VMs {
			names = append(names, v.Name)
		}
	case c.Location == workflow.LocAlternate && cfg.Host(c.AltHost) == nil:
		kind, name, list = "[[host]]", c.AltHost, "failback config check"
		for _, h := range cfg.Hosts {
			names = append(names, h.Name)
		}
	default:
		return nil
	}
	have := "it defines none"
	if len(names) > 0 {
		have = "it defines " + strings.Join(names, ", ")
	}
	return &ExitError{Code: exitRefused, Err: fmt.Errorf("no %s named %q in %s (%s; '%s' lists them); nothing was done", kind, name, cfg.File, have, list)}
}

// dryRun prints the estimate and the pre-flight; it changes nothing.
func dryRun(ctx context.Context, s Stdio, svc workflow.Service, c workflow.Choices, asJSON bool) error {
	est, err := svc.Estimate(ctx, c)
	if err != nil {
		return err
	}
	rep, err := svc.Preflight(ctx, c)
	if err != nil {
		return err
	}
	if asJSON {
		_ = json.NewEncoder(s.Out).Encode(struct {
			Estimate  workflow.Estimate        `json:"estimate"`
			Preflight workflow.PreflightReport `json:"preflight"`
		}{est, rep})
	} else {
		est, rep := safetext.Value(est), safetext.Value(rep)
		fmt.Fprintf(s.Out, "%-12s %-28s %10s %14s %18s  %s\n", "VM", "DISK", "SIZE", "TO CHECK", "TO TRANSFER (est)", "BASIS")
		for _, d := range est.Disks {
			check := d.Size
			transfer := d.ChangedEstimate
			if c.Sync == workflow.SyncFull {
				check, transfer = 0, d.Allocated
			}
			enc := ""
			if d.Encrypted {
				enc = " (encrypted)"
			}
			fmt.Fprintf(s.Out, "%-12s %-28s %10s %14s %18s  %s%s\n", d.VM, d.Blob, units.Bytes(d.Size), units.Bytes(check), units.Bytes(transfer), d.Basis, enc)
		}
		fmt.Fprintf(s.Out, "recommended sync: %s (%s)\n", est.Recommended, est.Why)
		fmt.Fprintf(s.Out, "estimated downtime: delta %s (moves %s), full %s (moves %s)\n",
			est.DeltaDowntime.Round(time.Second), units.Bytes(est.DeltaBytes), est.FullDowntime.Round(time.Second), units.Bytes(est.FullBytes))
		fmt.Fprintln(s.Out, "pre-flight:")
		for _, r := range rep.Checks {
			mark := "ok  "
			switch {
			case !r.OK:
				mark = "FAIL"
			case r.Warning:
				mark = "WARN"
			}
			line := fmt.Sprintf("  %s %s", mark, r.What)
			if r.VM != "" {
				line = fmt.Sprintf("  %s %s: %s", mark, r.VM, r.What)
			}
			fmt.Fprintf(s.Out, "%s: %s\n", line, r.Detail)
			if fix := r.ScriptFix(); fix != "" {
				fmt.Fprintf(s.Out, "       fix: %s\n", fix)
			}
		}
		fmt.Fprintln(s.Out, "dry run: nothing was changed")
	}
	if !rep.OK {
		return &ExitError{Code: exitRefused, Err: errors.New("the pre-flight found problems (see above); fix them before running")}
	}
	return nil
}

// preflightFailure is a refused start as a script reads it: every failed
// check with its fix in run's flags.
func preflightFailure(rep workflow.PreflightReport) error {
	var b strings.Builder
	b.WriteString("pre-flight failed; nothing was written:")
	for _, c := range rep.Checks {
		if c.OK {
			continue
		}
		b.WriteString("\n  ")
		if c.VM != "" {
			b.WriteString(c.VM + ": ")
		}
		b.WriteString(c.What + ": " + c.Detail)
		if fix := c.ScriptFix(); fix != "" {
			b.WriteString("\n    fix: " + fix)
		}
	}
	return errors.New(b.String())
}

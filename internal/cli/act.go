package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/workflow"
)

// actCmd is one action command: what it asks and where it ends.
type actCmd struct {
	name, summary, help string
	action              workflow.Action
	until               workflow.JobState // "" = any resting state but failed or interrupted
	// destructive actions (commit, undo, cancel) need --yes, or a y on a
	// terminal after the command says what it will do.
	destructive bool
	// alt is a flag that asks for another action instead
	// (undo --remove-created).
	alt *altAction
}

// altAction is a flag of an action command that asks for another action.
type altAction struct {
	flag, usage string
	action      workflow.Action
}

// actCommand is the command of an action: "failback NAME JOB" asks for
// c.action and follows the job until it rests where c says.
func actCommand(c actCmd) Command {
	return Command{Name: c.name, Summary: c.summary, Run: func(ctx context.Context, s Stdio, args []string) error {
		return runAct(ctx, s, args, c)
	}}
}

// actFlags are the flags every action command takes.
type actFlags struct {
	file          *string
	asJSON, quiet *bool
	yes           *bool // nil: the command asks no confirmation
}

func newActFlags(s Stdio, name, usage string) (*actFlagSet, actFlags) {
	fl := newFlags(s, name, usage)
	return &actFlagSet{fl}, actFlags{file: configFlag(fl),
		asJSON: fl.Bool("json", false, "print the job as JSON on stdout when done"),
		quiet:  fl.Bool("quiet", false, "no progress on stderr")}
}

func runAct(ctx context.Context, s Stdio, args []string, c actCmd) error {
	usage := c.name + " JOB [--config FILE] [--json] [--quiet]\n" + c.help + "\n" + exitCodesHelp
	if c.destructive {
		usage = c.name + " JOB --yes [--config FILE] [--json] [--quiet]\n" + c.help + confirmHelp + "\n" + exitCodesHelp
	}
	fs, f := newActFlags(s, c.name, usage)
	if c.destructive {
		f.yes = fs.Bool("yes", false, "confirm: "+c.name+" the job (on a terminal, the command asks instead)")
	}
	var alt *bool
	if c.alt != nil {
		alt = fs.Bool(c.alt.flag, false, c.alt.usage)
	}
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s needs one job id ('failback jobs' lists them)", c.name)
	}
	done := func(_, v workflow.JobView) bool { return v.State == c.until }
	if c.until == "" {
		done = func(_, v workflow.JobView) bool {
			return v.State.Resting() && !v.State.Stopped()
		}
	}
	a := c.action
	if alt != nil && *alt {
		a = c.alt.action
	}
	return act(ctx, s, f, pos[0], c.name, a, actOpts{done: done})
}

// act asks for an action and follows the job until done.
func act(ctx context.Context, s Stdio, f actFlags, id, name string, a workflow.Action, o actOpts) error {
	cfg, err := loadConfig(*f.file)
	if err != nil {
		return err
	}
	printWarnings(s.Err, cfg)
	svc, closeSvc, err := openWorkflow(ctx, cfg, wireOptions{Command: "failback " + name + " " + id})
	if err != nil {
		return err
	}
	defer closeSvc()
	before, ok := svc.Job(id)
	if !ok {
		return &ExitError{Code: exitRefused, Err: fmt.Errorf("no job %s in %s ('failback jobs' lists them)", id, cfg.StateDir)}
	}
	who := cliActor()
	for _, st := range svc.Actions(id, who) {
		if st.Action != a {
			continue
		}
		if !st.Enabled {
			return &ExitError{Code: exitRefused, Err: fmt.Errorf("%s job %s is not possible now: %s", name, id, st.Why)}
		}
		if f.yes != nil && !*f.yes {
			if err := confirmAct(s, name, id, safetext.Lines(st.Confirm)); err != nil {
				return err
			}
		} else if !*f.quiet && st.Confirm != "" {
			fmt.Fprintf(s.Err, "%s: %s\n", name, safetext.Lines(st.Confirm))
		}
	}
	client, isClient := svc.(*workflow.Client)
	if isClient && !*f.quiet {
		pid, cmd := client.Driver()
		fmt.Fprintf(s.Err, "going through process %d (%s), which drives this state folder\n", pid, cmd)
	}
	if err := svc.Act(ctx, id, a, who); err != nil {
		return refused(err)
	}
	if o.detach && isClient {
		pid, cmd := client.Driver()
		fmt.Fprintf(s.Err, "reverse replication of job %s runs in process %d (%s); stop it with 'failback reverse --stop %s'\n", id, pid, cmd, id)
		return nil
	}
	wt := newWatcher(s.Err, *f.quiet)
	v, werr := waitJob(ctx, svc, id, wt, func(v workflow.JobView) bool { return o.done(before, v) })
	if ee, ok := werr.(*ExitError); ok && ee.Code == exitInterrupted && o.stopOnInterrupt {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := svc.Act(sctx, id, workflow.ActStopReverse, who); err != nil {
			return err
		}
		v, werr = waitJob(sctx, svc, id, wt, func(v workflow.JobView) bool { return v.State == workflow.StateCommitted })
	}
	if *f.asJSON {
		_ = json.NewEncoder(s.Out).Encode(v)
	}
	return werr
}

// actFlagSet lets action commands add their own flags.
type actFlagSet struct{ *flag.FlagSet }

// actOpts shape how act follows the job.
type actOpts struct {
	// done says whether the job, first seen as before, got where the
	// command drives it.
	done func(before, now workflow.JobView) bool
	// detach: through another process's socket, return once accepted.
	detach bool
	// stopOnInterrupt: a signal asks stop-reverse and waits for it.
	stopOnInterrupt bool
}

const confirmHelp = `
It asks first: on a terminal, it says what it will do and waits for y;
elsewhere --yes is required (scripts must confirm, as with run).`

// confirmAct asks the person at a terminal to confirm a destructive
// action, or refuses (exit 2) where nobody can answer: without --yes a
// script must not undo, cancel or commit by accident.
func confirmAct(s Stdio, name, id, what string) error {
	if !isTerminal(s.In) || !isTerminal(s.Err) {
		return usagef("%s job %s cannot be taken back: add --yes to confirm (scripts must confirm), or run it on a terminal to be asked", name, id)
	}
	fmt.Fprintf(s.Err, "%s job %s: %s\nProceed? [y/N] ", name, id, what)
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return &ExitError{Code: exitRefused, Err: fmt.Errorf("%s job %s: not confirmed; nothing done", name, id)}
}

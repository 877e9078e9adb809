package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/failback/failback/workflow"
)

// actCmd is one action command: what it asks and where it ends.
type actCmd struct {
	name, summary, help string
	action              workflow.Action
	until               workflow.JobState // "" = any resting state but failed
}

var actCmds = []actCmd{
	{"complete", "Complete failover: shut the Azure VMs down, move the last changes, verify, start on premises", `
Complete failover of a delta job that is ready-to-complete (or in catch-up):
the Azure VMs are shut down (the downtime starts), the disks are snapshotted
once more, what changed since the last snapshot is moved and verified, and
the on-premises VMs are started group by group. Ends pending-commit.`, workflow.ActComplete, workflow.StatePendingCommit},
	{"commit", "commit a failback: delete the Azure VMs, keep the disk blobs as the replica", `
Commit a pending-commit job: the Azure VMs are deleted (their disk blobs
stay, as the replica for reverse replication), this job's snapshots are
deleted but the last of each disk, and the undo journals are discarded.
Ends committed; the failback can no longer be undone.`, workflow.ActCommit, workflow.StateCommitted},
	{"cancel", "cancel a job before commit: roll every on-premises disk back, start the Azure VMs again", `
Cancel a job at any moment before the on-premises VMs start (during phase
1, catch-up, ready-to-complete, phase 2, or after a failure): the running
sync stops, every on-premises disk is rolled back byte for byte through the
undo journals, the Azure VMs this job shut down are started again, and its
snapshots are deleted. Ends cancelled. After the on-premises VMs started,
use undo.`, workflow.ActCancel, workflow.StateCancelled},
	{"undo", "undo a failback after phase 2, before commit: Azure becomes the running side again", `
Undo a pending-commit job: the on-premises VMs are shut down, the Azure VMs
started again, the snapshots and undo journals deleted. Whatever the
on-premises VMs changed since the failback is discarded (the amount is shown
before the command acts). Ends undone.`, workflow.ActUndo, workflow.StateUndone},
	{"resume", "resume a failed or interrupted job from its journals", `
Resume a job that failed or whose process ended (crash, kill, reboot): it
continues where it stopped; finished blocks are not sent again. Ends in the
job's next resting state.`, workflow.ActResume, ""},
}

func init() {
	for _, c := range actCmds {
		register(Command{Name: c.name, Summary: c.summary, Run: func(ctx context.Context, s Stdio, args []string) error {
			return runAct(ctx, s, args, c)
		}})
	}
	register(Command{Name: "reverse", Summary: "reverse replicate a committed job: send on-premises changes back to Azure", Run: runReverse})
}

// actFlags are the flags every action command takes.
type actFlags struct {
	file          *string
	asJSON, quiet *bool
}

func newActFlags(s Stdio, name, usage string) (*actFlagSet, actFlags) {
	fl := newFlags(s, name, usage)
	return &actFlagSet{fl}, actFlags{file: configFlag(fl),
		asJSON: fl.Bool("json", false, "print the job as JSON on stdout when done"),
		quiet:  fl.Bool("quiet", false, "no progress on stderr")}
}

func runAct(ctx context.Context, s Stdio, args []string, c actCmd) error {
	fs, f := newActFlags(s, c.name, c.name+" JOB [--config FILE] [--json] [--quiet]\n"+c.help+"\n"+exitCodesHelp)
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
			return restingState(v.State) && v.State != workflow.StateFailed && v.State != workflow.StateInterrupted
		}
	}
	return act(ctx, s, f, pos[0], c.name, c.action, actOpts{done: done})
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
		if !*f.quiet && st.Confirm != "" {
			fmt.Fprintf(s.Err, "%s: %s\n", name, st.Confirm)
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

const reverseUsage = `reverse JOB [--once | --stop] [--config FILE] [--json] [--quiet]

Reverse replicates a committed job: protects the on-premises VMs back to
Azure. Each cycle finds the blocks changed on premises since the last one
from the block checksums recorded at failback (never by downloading), sends
only those to the disk blobs, and snapshots each blob as a recovery point
(config [reverse] keep_recovery_points are kept).
  --once  one cycle, then the job rests committed again.
  (none)  a cycle every [reverse] interval. When failback serve (or a
          console) drives the state folder, it runs there and this command
          returns; otherwise this process runs the cycles until it is
          interrupted (Ctrl-C), then stops them and exits 0.
  --stop  stop running reverse replication.` + exitCodesHelp

func runReverse(ctx context.Context, s Stdio, args []string) error {
	fs, f := newActFlags(s, "reverse", reverseUsage)
	once := fs.Bool("once", false, "run one cycle, then stop")
	stop := fs.Bool("stop", false, "stop reverse replication")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("reverse needs one job id ('failback jobs' lists them)")
	}
	if *once && *stop {
		return usagef("--once and --stop exclude each other")
	}
	id := pos[0]
	committed := func(_, v workflow.JobView) bool { return v.State == workflow.StateCommitted }
	switch {
	case *stop:
		return act(ctx, s, f, id, "reverse --stop", workflow.ActStopReverse, actOpts{done: committed})
	case *once:
		return act(ctx, s, f, id, "reverse --once", workflow.ActReverseOnce, actOpts{done: func(before, v workflow.JobView) bool {
			return v.State == workflow.StateCommitted && v.ReverseCycles > before.ReverseCycles
		}})
	}
	// Continuous: cycles until interrupted, then stop cleanly.
	return act(ctx, s, f, id, "reverse", workflow.ActReverse, actOpts{
		done:   func(workflow.JobView, workflow.JobView) bool { return false },
		detach: true, stopOnInterrupt: true})
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

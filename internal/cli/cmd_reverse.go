package cli

import (
	"context"

	"github.com/failback/failback/workflow"
)

// newReverseCommand is "failback reverse", the command table's entry (cli.go).
func newReverseCommand() Command {
	return Command{Name: "reverse", Summary: "reverse replicate a committed job: send on-premises changes back to Azure", Run: runReverse}
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

package cli

import "github.com/failback/failback/workflow"

// newUndoCommand is "failback undo", the command table's entry (cli.go).
func newUndoCommand() Command {
	return actCommand(actCmd{
		name:    "undo",
		summary: "undo a failback after phase 2, before commit: Azure becomes the running side again",
		help: `
Undo a pending-commit job: the on-premises VMs are shut down, the Azure VMs
started again, the snapshots and undo journals deleted. Whatever the
on-premises VMs changed since the failback is discarded (the amount is shown
before the command acts). VMs the job created at an alternate location stay
there, off, with their disks; --remove-created removes them and those disks
too. Ends undone.`,
		destructive: true,
		alt: &altAction{flag: "remove-created", action: workflow.ActUndoRemove,
			usage: "also remove the VMs this job created at an alternate location, with their disks"},
		action: workflow.ActUndo,
		until:  workflow.StateUndone,
	})
}

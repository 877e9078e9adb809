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
before the command acts). Ends undone.`,
		destructive: true,
		action:      workflow.ActUndo,
		until:       workflow.StateUndone,
	})
}

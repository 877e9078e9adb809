package cli

import "github.com/failback/failback/workflow"

// newCancelCommand is "failback cancel", the command table's entry (cli.go).
func newCancelCommand() Command {
	return actCommand(actCmd{
		name:    "cancel",
		summary: "cancel a job before commit: roll every on-premises disk back, start the Azure VMs again",
		help: `
Cancel a job at any moment before the on-premises VMs start (during phase
1, catch-up, ready-to-complete, phase 2, or after a failure): the running
sync stops, every on-premises disk is rolled back byte for byte through the
undo journals, the Azure VMs this job shut down are started again, and its
snapshots are deleted. Ends cancelled. After the on-premises VMs started,
use undo.`,
		destructive: true,
		action:      workflow.ActCancel,
		until:       workflow.StateCancelled,
	})
}

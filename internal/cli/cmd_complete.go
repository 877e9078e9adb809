package cli

import "github.com/failback/failback/workflow"

// newCompleteCommand is "failback complete", the command table's entry (cli.go).
func newCompleteCommand() Command {
	return actCommand(actCmd{
		name:    "complete",
		summary: "Complete failover: shut the Azure VMs down, move the last changes, verify, start on premises",
		help: `
Complete failover of a delta job that is ready-to-complete (or in catch-up):
the Azure VMs are shut down (the downtime starts), the disks are snapshotted
once more, what changed since the last snapshot is moved and verified, and
the on-premises VMs are started group by group. Ends pending-commit.`,
		action: workflow.ActComplete,
		until:  workflow.StatePendingCommit,
	})
}

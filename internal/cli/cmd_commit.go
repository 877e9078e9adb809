package cli

import "github.com/failback/failback/workflow"

// newCommitCommand is "failback commit", the command table's entry (cli.go).
func newCommitCommand() Command {
	return actCommand(actCmd{
		name:    "commit",
		summary: "commit a failback: delete the Azure VMs, keep the disk blobs as the replica",
		help: `
Commit a pending-commit job: the Azure VMs are deleted (their disk blobs
stay, as the replica for reverse replication), this job's snapshots are
deleted but the last of each disk, and the undo journals are discarded.
Ends committed; the failback can no longer be undone.`,
		destructive: true,
		action:      workflow.ActCommit,
		until:       workflow.StateCommitted,
	})
}

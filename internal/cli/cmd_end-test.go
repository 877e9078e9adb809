package cli

import "github.com/failback/failback/workflow"

// newEndTestCommand is "failback end-test", the command table's entry
// (cli.go): the action that ends a test failback ('failback run --test').
func newEndTestCommand() Command {
	return actCommand(actCmd{
		name:    "end-test",
		summary: "end a test failback: remove its test VMs, test disks and the switch it created",
		help: `
Ends a test failback ('failback run --test'), at any moment: its test VMs
are turned off and removed, its test disks and test folders deleted, the
switch the test created removed, and its snapshots deleted. The VMs' own
disks were only read and the Azure VMs never stopped: they stay as they
are. 'failback cancel' does the same to a test. 'failback status JOB'
shows the test's report (what was checked, when, each step's time, the
measured final pass) before or after.`,
		action: workflow.ActEndTest,
		until:  workflow.StateTestEnded,
	})
}

package cli

import "github.com/failback/failback/workflow"

// newResumeCommand is "failback resume", the command table's entry (cli.go).
func newResumeCommand() Command {
	return actCommand(actCmd{
		name:    "resume",
		summary: "resume a failed or interrupted job from its journals",
		help: `
Resume a job that failed or whose process ended (crash, kill, reboot): it
continues where it stopped; finished blocks are not sent again. Ends in the
job's next resting state.`,
		action: workflow.ActResume,
		// until is left empty: any resting state but failed or interrupted.
	})
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/failback/failback/internal/safetext"
)

// newJobsCommand is "failback jobs", the command table's entry (cli.go).
func newJobsCommand() Command {
	return Command{Name: "jobs", Summary: "list every failback job and its state", Run: runJobs}
}

const jobsUsage = `jobs [--config FILE] [--json]

Lists every job of the state folder, newest first: its id, state, plan or
VM, sync option, the phase it is in and how far through it (the same
figures as the console and 'failback status'). A job shown "interrupted" was moving when its
process ended: 'failback resume JOB' continues it from its journals.`

func runJobs(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "jobs", jobsUsage)
	file := configFlag(fl)
	asJSON := fl.Bool("json", false, "print the jobs as JSON")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("jobs takes no arguments (got %q)", pos[0])
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		return err
	}
	svc, done, err := viewWorkflow(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	jobs := svc.Jobs()
	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(jobs)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(s.Err, "no jobs yet: start one with 'failback run' or the console")
		return nil
	}
	tw := tabwriter.NewWriter(s.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPLAN/VM\tSYNC\tPHASE\tDONE\tUPDATED")
	for _, j := range safetext.Value(jobs) {
		sync := string(j.Choices.Sync)
		if j.Choices.Test {
			sync = "TEST" // a drill: never completes, production untouched
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.State, j.Title, sync, j.Phase,
			strings.TrimSpace(j.DoneText()), j.Updated.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

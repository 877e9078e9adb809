package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/workflow"
)

// newTestCommand is "failback test", the command table's entry (cli.go;
// in cmd_testfailback.go, since cmd_test.go would be a Go test file):
// what follows 'failback run --test'.
func newTestCommand() Command {
	return Command{Name: "test", Summary: "report on a test failback, or end it (its test VMs, disks and switch removed)", Run: runTest}
}

const testUsage = `test report JOB [--config FILE] [--json]
       failback test end JOB [--config FILE] [--json] [--quiet]

A test failback ('failback run --test') ends "testing", with its test VMs
running. report prints, per VM, the test VM, its test disks, every check
after start (what, when, how long, the result), each step's time, and the
measured time of the final pass a real failback would have run with the
Azure VMs off. end turns off and removes the test VMs, deletes the test
disks and the switch the test created, and deletes the job's snapshots;
the VMs' own disks and the Azure VMs stay as they are ('failback cancel'
does the same to a test at any moment).`

func runTest(ctx context.Context, s Stdio, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(s.Err, "usage: failback "+testUsage)
		if len(args) == 0 {
			return usagef("test needs report or end")
		}
		return nil
	}
	switch args[0] {
	case "report":
		return runTestReport(ctx, s, args[1:])
	case "end":
		return runAct(ctx, s, args[1:], actCmd{name: "test end", action: workflow.ActEndTest, until: workflow.StateTestEnded,
			help: "\nEnds a test failback: its test VMs, test disks and the switch it created are removed."})
	}
	return usagef("test %s: want report or end", args[0])
}

func runTestReport(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "test report", testUsage)
	file := configFlag(fl)
	asJSON := fl.Bool("json", false, "print the report as JSON")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("test report needs one job id ('failback jobs' lists them)")
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
	v, ok := svc.Job(pos[0])
	if !ok {
		return &ExitError{Code: exitRefused, Err: fmt.Errorf("no job %s in %s ('failback jobs' lists them)", pos[0], cfg.StateDir)}
	}
	if v.Test == nil {
		return &ExitError{Code: exitRefused, Err: fmt.Errorf("job %s is a failback, not a test ('failback status %s' shows it)", v.ID, v.ID)}
	}
	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			ID    string               `json:"id"`
			Title string               `json:"title"`
			State workflow.JobState    `json:"state"`
			Test  *workflow.TestReport `json:"test"`
		}{v.ID, v.Title, v.State, v.Test})
	}
	printTestReport(s.Out, safetext.Value(v))
	return nil
}

// printTestReport writes a test's report as an operator reads it.
func printTestReport(w io.Writer, v workflow.JobView) {
	t := v.Test
	fmt.Fprintf(w, "TEST failback %s (%s): %s\n", v.ID, v.Title, v.State)
	fmt.Fprintln(w, "the Azure VMs keep running; the on-premises VMs' disks are only read")
	for _, s := range t.Switches {
		who := "present before the test; kept"
		if s.CreatedByTest {
			who = "created by the test; removed when it ends"
		}
		if s.Removed {
			who = "created by the test; removed"
		}
		fmt.Fprintf(w, "switch:     %s on %s (%s, %s)\n", s.Name, s.Host, orText(s.Type, "type not known yet"), who)
	}
	if t.FinalPass > 0 {
		note := ""
		if t.FinalPassResumed {
			note = "; interrupted and resumed, so the time includes the interruption"
		}
		fmt.Fprintf(w, "final pass: %s moved in %s, measured with the Azure VMs running (a real failback's downtime adds their shutdown and the VM starts%s)\n",
			units.Bytes(t.FinalPassBytes), t.FinalPass.Round(time.Millisecond), note)
	} else {
		fmt.Fprintln(w, "final pass: not measured yet")
	}
	fmt.Fprintln(w, "steps:")
	for _, st := range t.Steps {
		took := "running"
		if st.Done {
			took = st.Took.Round(time.Millisecond).String()
		}
		if st.Resumed {
			took += " (resumed)"
		}
		fmt.Fprintf(w, "  %-66s %s  %s\n", st.Step, st.Start.Local().Format(time.TimeOnly), took)
	}
	for _, r := range t.VMs {
		fmt.Fprintf(w, "%s -> %s on %s (%s)\n", r.VM, r.TestVM, r.Host, r.State)
		for _, d := range r.Disks {
			how := "differencing disk over " + d.Parent
			if d.Mode != "differencing" {
				how = "copy of " + d.Parent + " (" + d.Why + ")"
			}
			fmt.Fprintf(w, "  disk  %s: %s [%s]\n", d.Image, how, d.State)
		}
		if len(r.Checks) == 0 {
			fmt.Fprintln(w, "  checks: none yet")
		}
		for _, c := range r.Checks {
			mark := "ok  "
			switch {
			case c.Skipped:
				mark = "skip"
			case !c.OK:
				mark = "FAIL"
			}
			fmt.Fprintf(w, "  check %s %-16s %s  %-8s %s\n", mark, c.What, c.At.Local().Format(time.TimeOnly), c.Took.Round(time.Millisecond), c.Detail)
		}
	}
}

// testRunChoices turns run --test's flags into choices.
func testRunChoices(c workflow.Choices, f runFlags, pos []string) (workflow.Choices, error) {
	c.Test, c.TestHost, c.TestSwitch, c.TestCopy, c.AltHost = true, *f.host, *f.testSwitch, *f.testCopy, ""
	if c.Sync == "" {
		c.Sync = workflow.SyncDelta
	}
	switch {
	case len(pos) > 0:
		return c, usagef("run takes flags only (got %q): name the plan with --plan or the VM with --vm", pos[0])
	case (c.Plan == "") == (c.VM == ""):
		return c, usagef("name exactly one of --plan NAME or --vm NAME ('failback plans' lists them)")
	case c.Sync != workflow.SyncDelta:
		return c, usagef("--test synchronises by checksums while the Azure VMs keep running: leave --sync out (or --sync delta)")
	case c.Location != workflow.LocOriginal:
		return c, usagef("--test reads the VMs' own disks where they are: leave --location out, and name the test VMs' host with --host")
	case c.CreateVM || c.DiscardSavedState || len(c.SwitchMap) > 0:
		return c, usagef("--create-vm, --discard-saved-state and --map-switch change on-premises VMs, which --test never does")
	}
	return c, nil
}

func orText(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

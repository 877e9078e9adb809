package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/workflow"
)

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

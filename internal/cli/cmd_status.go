package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/workflow"
)

// newStatusCommand is "failback status", the command table's entry (cli.go).
func newStatusCommand() Command {
	return Command{Name: "status", Summary: "show one job: its state, every VM and disk, its log and what can be done", Run: runStatus}
}

const statusUsage = `status JOB [--config FILE] [--json] [--log N]

Shows the job's state, per VM and per disk figures (phase, bytes checked and
transferred, rate), the actions that apply now (or why not), and the newest
log lines. --json prints the job (the same fields) as one JSON object.` + exitCodesHelp

func runStatus(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "status", statusUsage)
	file := configFlag(fl)
	asJSON := fl.Bool("json", false, "print the job as JSON")
	logN := fl.Int("log", 10, "show the newest `N` log lines")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("status needs one job id ('failback jobs' lists them)")
	}
	svc, v, done, err := viewJob(ctx, *file, pos[0])
	if err != nil {
		return err
	}
	defer done()
	if *asJSON {
		return json.NewEncoder(s.Out).Encode(v) // a test's report is its "test" field
	}
	printJob(s, safetext.Value(v))
	if v.Test != nil {
		fmt.Fprintln(s.Out)
		printTestReport(s.Out, safetext.Value(v))
	}
	fmt.Fprintln(s.Out, "\nActions:")
	for _, a := range safetext.Value(svc.Actions(v.ID, cliActor())) {
		if a.Hidden {
			continue
		}
		if a.Enabled {
			fmt.Fprintf(s.Out, "  %-13s failback %s %s\n", a.Action, actionCommand(a.Action), v.ID)
		} else {
			fmt.Fprintf(s.Out, "  %-13s not now: %s\n", a.Action, a.Why)
		}
	}
	if *logN > 0 {
		fmt.Fprintln(s.Out, "\nLog:")
		for _, l := range safetext.Value(svc.Log(v.ID, *logN)) {
			fmt.Fprintf(s.Out, "  %s %-5s %s\n", l.Time.Local().Format(time.DateTime), l.Level, l.Text)
		}
	}
	return nil
}

func printJob(s Stdio, v workflow.JobView) {
	fmt.Fprintf(s.Out, "job %s: %s, %s\n", v.ID, v.Title, v.State)
	fmt.Fprintf(s.Out, "  sync %s, location %s", v.Choices.Sync, v.Choices.Location)
	if v.Choices.AltHost != "" {
		fmt.Fprintf(s.Out, " (%s)", v.Choices.AltHost)
	}
	fmt.Fprintf(s.Out, ", started %s by %s, catch-up pass %d, %.0f%%\n", v.Created.Local().Format(time.DateTime), v.Owner.Name, v.Pass, v.Percent)
	if v.Error != "" {
		fmt.Fprintf(s.Out, "  error: %s\n", v.Error)
	}
	for _, vm := range v.VMs {
		fmt.Fprintf(s.Out, "  VM %s (group %d) on %s: Azure %s, on premises %s\n", vm.Name, vm.Group, vm.Host, vm.AzureState, vm.OnPremState)
		if n := len(vm.RecoveryPoints); n > 0 {
			last := vm.RecoveryPoints[n-1]
			fmt.Fprintf(s.Out, "    %d recovery point(s), the newest %s (%s ago, %s, %s sent by its cycle); failback replica disks %s makes disks of one\n",
				n, last.At.Local().Format(time.DateTime), time.Since(last.At).Round(time.Second), consistencyText(last.Consistency), units.Bytes(last.Sent), v.ID)
		}
		for _, d := range vm.Disks {
			fmt.Fprintf(s.Out, "    %-24s %-9s %5.1f%%  checked %s  transferred %s  differed %d blocks  -> %s\n",
				d.Name, d.Phase, d.Percent, units.Bytes(d.BytesChecked), units.Bytes(d.BytesTransferred), d.BlocksDiffered, d.Image)
			if d.Agent != nil {
				fmt.Fprintf(s.Out, "      %s\n", agentText(*d.Agent))
			}
		}
	}
	if len(v.Azure) > 0 {
		fmt.Fprintf(s.Out, "  held in Azure (deleted when no longer needed):\n")
		for _, h := range v.Azure {
			reading := ""
			if h.Reading {
				reading = ", being read (an active read grant)"
			}
			fmt.Fprintf(s.Out, "    snapshot %s of %s %s (%s pass)%s\n", h.Snapshot, h.VM, h.Disk, h.Pass, reading)
		}
	}
}

// actionCommand is the script command of an action.
func actionCommand(a workflow.Action) string {
	switch a {
	case workflow.ActReverseOnce:
		return "reverse --once"
	case workflow.ActStopReverse:
		return "reverse --stop"
	}
	return string(a)
}

// viewJob opens the jobs for viewing and finds job id (exit 3 when there
// is none); done closes the view.
func viewJob(ctx context.Context, file, id string) (workflow.Service, workflow.JobView, func(), error) {
	cfg, err := loadConfig(file)
	if err != nil {
		return nil, workflow.JobView{}, nil, err
	}
	svc, done, err := viewWorkflow(ctx, cfg)
	if err != nil {
		return nil, workflow.JobView{}, nil, err
	}
	v, ok := svc.Job(id)
	if !ok {
		done()
		return nil, workflow.JobView{}, nil, &ExitError{Code: exitRefused, Err: fmt.Errorf("no job %s in %s ('failback jobs' lists them)", id, cfg.StateDir)}
	}
	return svc, v, done, nil
}

// agentText says what the Azure-side agent saved the link for one disk:
// bytes it checked in Azure, bytes that crossed the link, and what
// compression kept off it.
func agentText(a workflow.AgentView) string {
	t := fmt.Sprintf("via agent: checked %s in Azure, link %s", units.Bytes(a.AzureChecked), units.Bytes(a.LinkBytes))
	if a.BlockBytes > 0 {
		t += fmt.Sprintf(" (zstd saved %.0f%%)", 100*float64(a.CompressionSaved)/float64(a.BlockBytes))
	}
	if a.DirectBytes > 0 {
		t += fmt.Sprintf(", %s read directly while it was unreachable", units.Bytes(a.DirectBytes))
	}
	if a.Fallback {
		t += "; unreachable now: reading directly from storage"
	}
	return t
}

// consistencyText says what a recovery point's disks are consistent with.
func consistencyText(c string) string {
	switch c {
	case "":
		return "consistency not recorded"
	case "live":
		return "read live, not consistent"
	case "vm-off":
		return "taken with the VM off"
	}
	return c
}

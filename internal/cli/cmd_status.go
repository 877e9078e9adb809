package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	w := s.Out
	fmt.Fprintf(w, "job %s: %s, %s\n", v.ID, v.Title, v.State)
	fmt.Fprintf(w, "  sync %s, location %s", v.Choices.Sync, v.Choices.Location)
	if v.Choices.AltHost != "" {
		fmt.Fprintf(w, " (%s)", v.Choices.AltHost)
	}
	fmt.Fprintf(w, ", started %s by %s\n", v.Created.Local().Format(time.DateTime), v.Owner.Name)
	fmt.Fprintf(w, "  %s: %s", v.Phase, strings.TrimSpace(v.DoneText()))
	if v.ETA > 0 && v.State.Moving() {
		fmt.Fprintf(w, ", about %s left", units.Duration(v.ETA))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %s\n", totalsText(v.Totals))
	if hs := v.HostsMoving(); hs != nil {
		fmt.Fprintf(w, "  hosts: %s\n", strings.Join(hs, "; "))
	}
	if e := v.CompleteNow; e != nil {
		fmt.Fprintf(w, "  %s (measured now: %s)\n", e.Text(), e.Basis)
	}
	if v.Wait != "" {
		fmt.Fprintf(w, "  waiting: %s\n", v.Wait)
	}
	if v.ReverseCycles > 0 || !v.NextReverse.IsZero() {
		fmt.Fprintf(w, "  reverse replication: %d cycle(s)", v.ReverseCycles)
		if !v.LastReverse.IsZero() {
			fmt.Fprintf(w, ", last %s", v.LastReverse.Local().Format(time.DateTime))
		}
		if !v.NextReverse.IsZero() {
			fmt.Fprintf(w, ", next %s", v.NextReverse.Local().Format(time.DateTime))
		}
		fmt.Fprintln(w)
	}
	if v.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", v.Error)
	}
	if v.Downtime != nil {
		fmt.Fprintf(s.Out, "  %s\n", v.Downtime.Text())
	}
	for _, vm := range v.VMs {
		fmt.Fprintf(w, "  VM %s (group %d) on %s: Azure %s, on premises %s\n", vm.Name, vm.Group, vm.Host, vm.AzureState, vm.OnPremState)
		if n := len(vm.RecoveryPoints); n > 0 {
			last := vm.RecoveryPoints[n-1]
			fmt.Fprintf(w, "    %d recovery point(s), the newest %s (%s ago, %s, %s sent by its cycle); failback replica disks %s makes disks of one\n",
				n, last.At.Local().Format(time.DateTime), time.Since(last.At).Round(time.Second), consistencyText(last.Consistency), units.Bytes(last.Sent), v.ID)
		}
		for _, d := range vm.Disks {
			step := d.Phase
			if d.Pass != "" {
				step += " (" + d.Pass + ")"
			}
			fmt.Fprintf(w, "    %s -> %s\n      %s %s: %s\n", d.Name, d.Image, step, strings.TrimSpace(units.Percent(d.Percent)), d.FiguresText())
			if d.Agent != nil {
				fmt.Fprintf(w, "      %s\n", agentText(*d.Agent))
			}
			if r := d.Reverse; r != nil {
				fmt.Fprintf(w, "      %s\n", reverseText(*r))
			}
			if d.Error != "" {
				fmt.Fprintf(w, "      error: %s\n", d.Error)
			}
			if d.Throttled {
				fmt.Fprintf(s.Out, "      %s\n", workflow.ThrottleText(d))
			}
		}
	}
	if len(v.Azure) > 0 {
		fmt.Fprintf(w, "  held in Azure (deleted when no longer needed):\n")
		for _, h := range v.Azure {
			reading := ""
			if h.Reading {
				reading = ", being read (an active read grant)"
			}
			fmt.Fprintf(w, "    snapshot %s of %s %s (%s pass)%s\n", h.Snapshot, h.VM, h.Disk, h.Pass, reading)
		}
	}
}

// totalsText is the job's totals over every pass.
func totalsText(t workflow.JobTotals) string {
	s := fmt.Sprintf("moved %s in %d pass(es)", units.Bytes(t.Moved), t.Passes)
	if t.FinalDone || t.FinalDelta > 0 {
		s += ", final delta " + units.Bytes(t.FinalDelta)
	}
	switch {
	case t.DowntimeLive:
		s += ", downtime so far " + units.Duration(t.Downtime)
	case t.Downtime > 0:
		s += ", downtime " + units.Duration(t.Downtime)
	}
	return s
}

// reverseText is what a disk's newest reverse cycles sent (its VM's line
// says the recovery points).
func reverseText(r workflow.ReverseView) string {
	var sent []string
	for i := len(r.Cycles) - 1; i >= 0 && len(sent) < 4; i-- {
		sent = append(sent, fmt.Sprintf("%s at %s", units.Bytes(r.Cycles[i].Sent), r.Cycles[i].At.Local().Format("15:04:05")))
	}
	return "reverse: sent " + strings.Join(sent, ", ") + " (newest first)"
}

// actionCommand is the script command of an action.
func actionCommand(a workflow.Action) string {
	switch a {
	case workflow.ActReverseOnce:
		return "reverse --once"
	case workflow.ActStopReverse:
		return "reverse --stop"
	case workflow.ActCommit, workflow.ActCancel, workflow.ActUndo:
		return string(a) + " --yes" // they ask first; --yes confirms
	case workflow.ActUndoRemove:
		return "undo --remove-created --yes"
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

package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// fastModel is a monitor that follows the fake within milliseconds.
func fastModel(t *testing.T, f *uitest.Fake, w, h int, first string) *session {
	t.Helper()
	m := New(f, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageMonitor, Refresh: 10 * time.Millisecond, Width: w, Height: h})
	t.Cleanup(m.Close)
	return startModel(t, m, w, h, first)
}

func lastAct(t *testing.T, f *uitest.Fake) workflow.Action {
	t.Helper()
	acts := f.Acts()
	if len(acts) == 0 {
		t.Fatal("no Act call")
	}
	return acts[len(acts)-1].Action
}

// A failed job offers Resume (e), with the service's confirmation, and
// says why the job stopped.
func TestGoldenMonitorFailedJobResumes(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	f.Update(id, func(j *workflow.JobView) {
		j.State = workflow.StateFailed
		j.Error = "host hv01.example.com did not answer within 2m0s: check the host and its SSH service, then resume"
	})
	s := start(t, f, uitest.Operator, PageMonitor, 80, 24, "[e] Resume")
	s.golden()
}

func TestMonitorResumeAsksThenActs(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	f.Update(id, func(j *workflow.JobView) { j.State, j.Error = workflow.StateInterrupted, "the console was closed" })
	s := fastModel(t, f, 80, 24, "[e] Resume")
	s.press([]string{"e"}, "Resume? Job "+id, "Continue the job (start) from where it stopped")
	s.press([]string{"y"}, "Resume accepted for "+id, "phase1")
	s.final()
	if a := lastAct(t, f); a != workflow.ActResume {
		t.Fatalf("acted %s, want resume", a)
	}
}

// A committed job offers continuous reverse replication (r) and one
// cycle (o); while replicating, Stop reverse (s).
func TestGoldenMonitorCommittedOffersReverseOnce(t *testing.T) {
	f := uitest.New()
	id := f.SeedPendingCommit()
	f.Update(id, func(j *workflow.JobView) { j.State = workflow.StateCommitted })
	s := start(t, f, uitest.Operator, PageMonitor, 80, 24, "[o] Reverse once")
	s.golden()
}

func TestMonitorReverseOnceThenStop(t *testing.T) {
	f := uitest.New()
	id := f.SeedPendingCommit()
	f.Update(id, func(j *workflow.JobView) { j.State = workflow.StateCommitted })
	s := fastModel(t, f, 80, 24, "[o] Reverse once")
	s.press([]string{"o"}, "Reverse once? Job "+id, "and rest committed")
	s.press([]string{"y"}, "Reverse once accepted", "[s] Stop reverse")
	if a := lastAct(t, f); a != workflow.ActReverseOnce {
		t.Fatalf("acted %s, want reverse-once", a)
	}
	f.Advance(id)
	s.press(nil, "reverse: 1 cycle(s), last 09:00:")
	s.press([]string{"s"}, "Stop reverse? Job "+id, "Stop reverse replication now")
	s.press([]string{"y"}, "Stop reverse accepted", "committed")
	s.final()
	if a := lastAct(t, f); a != workflow.ActStopReverse {
		t.Fatalf("acted %s, want stop-reverse", a)
	}
}

// The full help lists every action with why it is not possible, in
// place of the one-line bar.
func TestGoldenMonitorReverseRunningHelp(t *testing.T) {
	f := uitest.New()
	id := f.SeedPendingCommit()
	f.Update(id, func(j *workflow.JobView) { j.State = workflow.StateReverse })
	f.Advance(id)
	s := start(t, f, uitest.Operator, PageMonitor, 80, 24, "[s] Stop reverse")
	s.press([]string{"?"}, "[o] Reverse once       not now: reverse replication is running")
	s.golden()
}

// An open confirmation takes the service's newer text (Undo's measure
// of what it discards arrives after the dialog opened).
func TestMonitorDialogFollowsConfirmText(t *testing.T) {
	f := uitest.New()
	f.SeedPendingCommit()
	s := fastModel(t, f, 80, 24, "[u] Undo")
	f.SetConfirm(workflow.ActUndo, "Stop the on-premises VMs. WARNING: measuring how much is discarded…")
	s.press([]string{"u"}, "measuring how much")
	f.SetConfirm(workflow.ActUndo, "Stop the on-premises VMs. WARNING: 12.0 MiB changed since the failback is discarded.")
	s.press(nil, "12.0 MiB changed since")
	s.press([]string{"n"}, "Nothing done.")
	s.final()
	if n := f.Calls("Act"); n != 0 {
		t.Fatalf("Act called %d times", n)
	}
}

// Cancel asks with a button that says what it does; a cancelled job's
// disks say they were rolled back instead of showing the bars of the
// passes that ran.
func TestGoldenMonitorCancelledJobRolledBack(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	s := fastModel(t, f, 80, 24, "[x] Cancel")
	s.press([]string{"x"}, "[y] Cancel the job", "[n] No, do nothing")
	s.press([]string{"y"}, "Cancel accepted")
	f.Advance(id)
	s.press(nil, "rolled back: as it was before the job")
	s.golden()
}

// With the help open at 80x24, every action and its reason is on
// screen: the disks and the log give way.
func TestHelpListsEveryActionAt80x24(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	f.SeedRunning()
	f.SeedPendingCommit()
	f.SeedPendingCommit()
	m := newModel(t, f, uitest.Operator, PageMonitor, 80, 24)
	m.Update(press("?"))
	v := m.View()
	checkFits(t, v, 80, 24)
	for _, want := range []string{"[c] Complete failover", "[m] Commit", "[e] Resume", "[r] Reverse replicate",
		"[o] Reverse once", "[s] Stop reverse", "[x] Cancel", "[u] Undo"} {
		if !strings.Contains(v, want) {
			t.Errorf("%q is not on screen:\n%s", want, v)
		}
	}
}

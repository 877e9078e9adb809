package ui

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/failback/failback/ui/pages/monitor"
	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// readyJob is a job whose phase 1 is done: Complete failover applies.
func readyJob(f *uitest.Fake) string {
	id := f.SeedRunning()
	for i := 0; i < 10 && f.Advance(id) != workflow.StateReady; i++ {
	}
	return id
}

// Complete failover asks first; only "y" calls Act.
func TestMonitorCompleteNeedsConfirmation(t *testing.T) {
	f := uitest.New()
	id := readyJob(f)
	s := start(t, f, uitest.Operator, PageMonitor, 80, 24, "ready to complete failover")
	s.press([]string{"c"}, "Complete failover? Job 250512-0900-01", "Shut down the Azure VMs")
	if n := len(f.Acts()); n != 0 {
		t.Fatalf("Act called %d times by opening the dialog", n)
	}
	s.press([]string{"n"}, "Nothing done.")
	s.press([]string{"c"}, "Shut down the Azure VMs")
	s.press([]string{"enter"}, "Nothing done.") // focus starts on No
	if n := len(f.Acts()); n != 0 {
		t.Fatalf("Act called %d times without a yes", n)
	}
	s.press([]string{"c"}, "Shut down the Azure VMs")
	s.press([]string{"y"}, "Complete failover accepted for 250512-0900-01", "shutting-down-azure")
	s.final()
	acts := f.Acts()
	if len(acts) != 1 || acts[0].ID != id || acts[0].Action != workflow.ActComplete || acts[0].Who != uitest.Operator {
		t.Fatalf("Act calls %+v, want one Complete on %s by the operator", acts, id)
	}
}

// A disabled action says why when pressed, and opens no dialog.
func TestMonitorDisabledActionSaysWhy(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	s := start(t, f, uitest.Operator, PageMonitor, 80, 24, "[x] Cancel")
	s.press([]string{"c"}, "Complete failover is not possible now: phase 1 still running.")
	m := s.final()
	if m.monitor.DialogOpen() || len(f.Acts()) != 0 {
		t.Errorf("disabled action: dialog %v, acts %d", m.monitor.DialogOpen(), len(f.Acts()))
	}
}

// A viewer's action is refused by the console without asking the
// service.
func TestMonitorViewerActionRefused(t *testing.T) {
	f := uitest.New()
	readyJob(f)
	s := start(t, f, uitest.Viewer, PageMonitor, 80, 24, "ready to complete failover")
	s.press([]string{"c"}, "Complete failover: viewers cannot act; ask an operator.")
	s.press([]string{"x"}, "Cancel: viewers cannot act; ask an operator.")
	m := s.final()
	if n := f.Calls("Act"); n != 0 || m.monitor.DialogOpen() {
		t.Errorf("viewer: Act called %d times, dialog open %v", n, m.monitor.DialogOpen())
	}
}

// When the service refuses an action, its reason reaches the operator.
func TestMonitorServiceRefusalShown(t *testing.T) {
	f := uitest.New()
	readyJob(f)
	s := start(t, f, uitest.Operator, PageMonitor, 80, 24, "ready to complete failover")
	f.Refuse(workflow.ErrNotAllowed)
	s.press([]string{"c"}, "Shut down the Azure VMs")
	s.press([]string{"y"}, "Complete failover refused for 250512-0900-01: viewers cannot act")
	s.final()
	if j, _ := f.Job("250512-0900-01"); j.State != workflow.StateReady {
		t.Errorf("refused action changed the job to %s", j.State)
	}
}

// The service refuses a viewer by itself too (not only the console).
func TestFakeRefusesViewer(t *testing.T) {
	f := uitest.New()
	id := readyJob(f)
	if err := f.Act(t.Context(), id, workflow.ActComplete, uitest.Viewer); !errors.Is(err, workflow.ErrNotAllowed) {
		t.Errorf("viewer Act: %v, want ErrNotAllowed", err)
	}
	if _, err := f.Start(t.Context(), workflow.Choices{Plan: "web-shop"}, uitest.Viewer); !errors.Is(err, workflow.ErrNotAllowed) {
		t.Errorf("viewer Start: %v, want ErrNotAllowed", err)
	}
}

// Progress reaches the screen without a key press.
func TestMonitorFollowsProgress(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	m := New(f, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageMonitor, Refresh: 20 * time.Millisecond})
	t.Cleanup(m.Close)
	s := startModel(t, m, 120, 40, "[x] Cancel")
	f.Advance("250512-0900-01")
	s.press(nil, "sql01-os.vhd       checksum  phase 1       ██████████████░░░░░░░░░░░░░░  50%     1950 blk   1.9 GiB   400 MiB/s")
	for i := 0; i < 20 && f.Advance("250512-0900-01") != workflow.StateReady; i++ {
	}
	s.press(nil, "ready-to-complete", "[c] Complete failover")
	s.final()
}

// However many changes arrive, one refresh per interval re-reads the
// jobs: changes are coalesced, never handled one by one.
func TestMonitorCoalescesChanges(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	m := New(f, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageMonitor, Refresh: time.Hour})
	t.Cleanup(m.Close)
	m.Init()
	base := f.Calls("Jobs")
	for i := 0; i < 100; i++ {
		m.Update(changedMsg{})
	}
	if got := f.Calls("Jobs"); got != base {
		t.Fatalf("100 change notices read the jobs %d times before the refresh was due", got-base)
	}
	if !m.pending {
		t.Fatal("no refresh scheduled after changes")
	}
	_, cmd := m.Update(refreshDueMsg{})
	snap, ok := cmd().(monitor.SnapshotMsg)
	if !ok {
		t.Fatal("a due refresh did not read a snapshot")
	}
	m.Update(snap)
	if got := f.Calls("Jobs"); got != base+1 {
		t.Errorf("jobs read %d times for one due refresh, want 1", got-base)
	}
	if m.pending {
		t.Error("refresh still pending after it ran")
	}
}

// Every view fits the terminal, at any size, and follows resizes.
func TestViewsFitAnySize(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	f.SeedPendingCommit()
	for _, page := range []Page{PageMonitor, PageWizard} {
		m := newModel(t, f, uitest.Operator, page, 120, 40)
		for _, sz := range [][2]int{{80, 24}, {120, 40}, {60, 15}, {200, 60}, {40, 10}, {80, 24}} {
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			v := m.View()
			checkFits(t, v, sz[0], sz[1])
			if n := strings.Count(v, "\n") + 1; n != sz[1] {
				t.Errorf("page %v at %dx%d: %d lines, want the full height", page, sz[0], sz[1], n)
			}
		}
	}
}

type env map[string]string

func (e env) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}
func (e env) Getenv(k string) string { return e[k] }

// NO_COLOR turns colours off, through the program's own renderer.
func TestNoColor(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	view := func(e env) string {
		// A colour terminal, as an SSH session's PTY or a local one looks.
		e["TERM"], e["COLORTERM"] = "xterm-256color", "truecolor"
		r := lipgloss.NewRenderer(io.Discard, termenv.WithTTY(true), termenv.WithEnvironment(e))
		m := New(f, uitest.Operator, Options{Renderer: r, Page: PageMonitor})
		defer m.Close()
		return m.View()
	}
	if v := view(env{}); !strings.Contains(v, "\x1b[") {
		t.Fatal("a colour terminal got no colour: the test cannot tell NO_COLOR apart")
	}
	if v := view(env{"NO_COLOR": "1"}); strings.Contains(v, "\x1b[") {
		t.Errorf("NO_COLOR=1 still drew escape sequences:\n%q", v)
	}
}

// Closing the console drops its subscription and nothing else.
func TestCloseUnsubscribesOnly(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	m := New(f, uitest.Operator, Options{Renderer: asciiRenderer()})
	m.Init()
	if n := f.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers after Init, want 1", n)
	}
	m.Close()
	m.Close()
	if n := f.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after Close, want 0", n)
	}
	if j, _ := f.Job(id); j.State != workflow.StatePhase1 {
		t.Errorf("closing the console moved the job to %s", j.State)
	}
}

// Run quits on q and returns no error.
func TestRunQuits(t *testing.T) {
	f := uitest.New()
	err := Run(t.Context(), f, uitest.Operator, Options{Renderer: asciiRenderer()},
		RunIO{In: strings.NewReader("q"), Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Subscribers(); n != 0 {
		t.Errorf("Run left %d subscribers", n)
	}
}

// A confirmation whose action stops applying (the job moved on while the
// operator read it) closes and says why.
func TestMonitorDialogClosesWhenActionLapses(t *testing.T) {
	f := uitest.New()
	id := f.SeedPendingCommit()
	m := New(f, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageMonitor, Refresh: 10 * time.Millisecond})
	t.Cleanup(m.Close)
	s := startModel(t, m, 80, 24, "[m] Commit")
	s.press([]string{"m"}, "Delete the Azure VMs")
	f.Update(id, func(j *workflow.JobView) { j.State = workflow.StateCommitted })
	s.press(nil, "Commit is no longer possible: already committed.")
	s.press([]string{"y"}) // a late yes must not act
	fm := s.final()
	if fm.monitor.DialogOpen() || f.Calls("Act") != 0 {
		t.Errorf("lapsed action: dialog open %v, Act calls %d", fm.monitor.DialogOpen(), f.Calls("Act"))
	}
}

// A disk whose rate and time left are not known yet (verification just
// started) shows neither, not "- left", on a narrow terminal.
func TestMonitorNarrowLineHidesUnknownSpeed(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	f.Update(id, func(j *workflow.JobView) {
		d := &j.VMs[0].Disks[0]
		d.Phase, d.Rate, d.ETA, d.Percent = "verify", 0, 0, 12
	})
	s := start(t, f, uitest.Operator, PageMonitor, 80, 24, "verify")
	v := s.final().View()
	if strings.Contains(v, "- left") || !strings.Contains(v, "web01-os            127 GiB verify    phase 1\n") || !strings.Contains(v, "░  12%  diff") {
		t.Fatalf("narrow line of a disk without a rate:\n%s", v)
	}
}

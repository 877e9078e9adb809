package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// sizes are the terminal sizes every golden view is taken at.
var sizes = [][2]int{{80, 24}, {120, 40}}

// session is a console under teatest with its output collected.
type session struct {
	t  *testing.T
	tm *teatest.TestModel
	sc *screen
	at int // output seen so far
	w  int
	h  int
}

func start(t *testing.T, f *uitest.Fake, who workflow.Actor, page Page, w, h int, first string) *session {
	t.Helper()
	return startModel(t, newModel(t, f, who, page, w, h), w, h, first)
}

// startModel runs m under teatest and waits for first to be drawn.
func startModel(t *testing.T, m *Model, w, h int, first string) *session {
	t.Helper()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	s := &session{t: t, tm: tm, sc: watch(t, tm.Output()), w: w, h: h}
	s.at = s.sc.waitFor(t, 0, first)
	return s
}

// press sends keys, then waits for every want to be drawn.
func (s *session) press(keys []string, want ...string) {
	s.t.Helper()
	from := s.sc.mark()
	for _, k := range keys {
		s.tm.Send(press(k))
	}
	s.at = s.sc.waitFor(s.t, from, want...)
}

// final quits and returns the last model.
func (s *session) final() *Model {
	s.t.Helper()
	if err := s.tm.Quit(); err != nil {
		s.t.Fatal(err)
	}
	return s.tm.FinalModel(s.t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
}

// golden compares the final view with testdata/<test>.golden and checks
// that it fits the terminal.
func (s *session) golden() *Model {
	s.t.Helper()
	m := s.final()
	v := m.View()
	checkFits(s.t, v, s.w, s.h)
	teatest.RequireEqualOutput(s.t, []byte(v))
	return m
}

// Markers that tell each wizard step is on screen with its data loaded.
const (
	atPlan      = "Fail back what?"
	atDirection = "FROM (source)"
	atLocation  = "present on hv01.example.com"
	atSync      = "Recommended:"
	atCert      = "CN=failback DR 2025"
	atPreflight = "checks passed"
	atSummary   = "(nothing has moved yet)"
)

// walk is the web-shop path through the wizard: the keys that leave a
// step and what the next step shows once loaded.
var walk = []struct {
	step string
	keys []string
	next string
}{
	{"Plan", []string{"enter"}, atDirection},
	{"Direction", []string{"y"}, atLocation},
	{"Location", []string{"enter"}, atSync},
	{"Sync", []string{"enter"}, atCert},
	{"Certificate", []string{"enter"}, atPreflight},
	{"Pre-flight", []string{"enter"}, atSummary},
}

// walkTo drives the wizard from Plan to step.
func (s *session) walkTo(step string) {
	s.t.Helper()
	for _, w := range walk {
		if w.step == step {
			return
		}
		s.press(w.keys, w.next)
	}
	if step != "Summary" {
		s.t.Fatalf("no wizard step %q", step)
	}
}

func TestGoldenWizardSteps(t *testing.T) {
	steps := []string{"Plan", "Direction", "Location", "Sync", "Certificate", "Pre-flight", "Summary"}
	for _, sz := range sizes {
		for _, step := range steps {
			t.Run(fmt.Sprintf("%s_%dx%d", step, sz[0], sz[1]), func(t *testing.T) {
				s := start(t, uitest.New(), uitest.Operator, PageWizard, sz[0], sz[1], atPlan)
				s.walkTo(step)
				if m := s.golden(); m.WizardStep() != step {
					t.Errorf("wizard at %q, want %q", m.WizardStep(), step)
				}
			})
		}
	}
}

// An alternate host without the VM shows the failed check and its fix.
func TestGoldenWizardAlternateLocation(t *testing.T) {
	s := start(t, uitest.New(), uitest.Operator, PageWizard, 80, 24, atPlan)
	s.walkTo("Location")
	s.press([]string{"tab", "down"}, "not on hv02.example.com", "press space to create")
	s.golden()
}

// A failing pre-flight shows every row and the fix of the failed one.
func TestGoldenWizardPreflightFails(t *testing.T) {
	f := uitest.New()
	f.FailPreflight(1)
	s := start(t, f, uitest.Operator, PageWizard, 80, 24, atPlan)
	s.walkTo("Certificate")
	s.press([]string{"enter"}, "1 of 11 checks failed", "renew the SAS token")
	s.golden()
}

func seeded() (*uitest.Fake, string, string) {
	f := uitest.New()
	running := f.SeedRunning()
	pending := f.SeedPendingCommit()
	return f, running, pending
}

func TestGoldenMonitor(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("running_%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f, _, _ := seeded()
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "on-premises VMs started")
			// The newest job (pending commit) is selected first; go to the running one.
			s.press([]string{"down"}, "web01-os: phase 1 done", "[x] Cancel")
			s.golden()
		})
		t.Run(fmt.Sprintf("pending_commit_%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f, _, _ := seeded()
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "on-premises VMs started")
			s.golden()
		})
	}
}

// The confirmation dialog shows the service's text of what will happen.
func TestGoldenMonitorConfirmDialog(t *testing.T) {
	f, _, _ := seeded()
	s := start(t, f, uitest.Operator, PageMonitor, 80, 24, "on-premises VMs started")
	s.press([]string{"m"}, "Delete the Azure VMs")
	s.golden()
}

// The full help lists every action; disabled ones say why.
func TestGoldenMonitorFullHelp(t *testing.T) {
	f, _, _ := seeded()
	s := start(t, f, uitest.Operator, PageMonitor, 120, 40, "on-premises VMs started")
	s.press([]string{"down"}, "web01-os: phase 1 done")
	s.press([]string{"?"}, "not now: phase 1 still running")
	s.golden()
}

// A viewer sees the same monitor, with actions refused in advance.
func TestGoldenMonitorViewer(t *testing.T) {
	f, _, _ := seeded()
	s := start(t, f, uitest.Viewer, PageMonitor, 80, 24, "on-premises VMs started")
	s.golden()
}

// A VM never failed back before has no earlier snapshot: its changed
// figure is only an upper bound, and the step says "at most".
func TestGoldenWizardSyncUpperBound(t *testing.T) {
	s := start(t, uitest.New(), uitest.Operator, PageWizard, 80, 24, atPlan)
	s.press([]string{"down", "enter"}, atDirection)
	s.press([]string{"y"}, "present on hv02.example.com")
	s.press([]string{"enter"}, atSync, "moves at most", "≤ ")
	s.golden()
}

// Disk sizes the service is still reading show as such and appear
// without a key press once read; a blob that cannot be read says why.
func TestGoldenWizardPlanSizesArrive(t *testing.T) {
	f := uitest.New()
	f.SetDiskSize("web02-os", 0, "")
	f.SetDiskSize("sql01-data.vhd", 0, "open disk vhds/sql01-data.vhd: no such blob; check the blob name")
	m := New(f, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageWizard, Width: 80, Height: 24})
	t.Cleanup(m.Close)
	s := startModel(t, m, 80, 24, "reading size…")
	s.sc.waitFor(t, 0, "254 GiB so far (1 still", "being read, 1 unreadable)", "size unknown: open disk")
	f.SetDiskSize("web02-os", 127*(1<<30), "")
	s.press(nil, "381 GiB without 1")
	s.golden()
}

// A disk read through the Azure-side agent says, on a line of its own,
// what the agent checked in Azure and what crossed the link; while the
// agent is unreachable, that reads go straight to storage. It fits at
// 80 columns.
func TestGoldenMonitorAgentFigures(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f, running, _ := seeded()
			f.Update(running, func(j *workflow.JobView) {
				for vi := range j.VMs {
					for di := range j.VMs[vi].Disks {
						d := &j.VMs[vi].Disks[di]
						d.Agent = &workflow.AgentView{AzureChecked: d.BytesChecked, BlockBytes: d.BytesTransferred + 64<<20,
							LinkBytes: (d.BytesTransferred+64<<20)*6/10 + 2<<20, CompressionSaved: (d.BytesTransferred + 64<<20) * 4 / 10}
						if d.Name == "web02-os" {
							d.Agent.Fallback, d.Agent.DirectBytes = true, 3<<30
						}
					}
				}
			})
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "on-premises VMs started")
			s.press([]string{"down"}, "via agent: checked 127 GiB in Azure, link 2.3 GiB (zstd saved 40%)",
				"agent unreachable: reading directly from storage (3.0 GiB so far)")
			s.golden()
		})
	}
}

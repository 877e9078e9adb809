package ui

import (
	"reflect"
	"strings"
	"testing"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// The sync page's third option starts a test failback: the summary says
// what a test does (the Azure VMs keep running, test VMs on an isolated
// switch) and Start gets Test with a delta sync.
func TestWizardTestFailbackChoice(t *testing.T) {
	f := uitest.New()
	s := start(t, f, uitest.Operator, PageWizard, 120, 40, atPlan)
	s.walkTo("Sync")
	s.press([]string{"down", "down"}, "> (•) Test failback: the Azure VMs keep running; nothing on premises is overwritten")
	s.press([]string{"enter"}, atCert)
	s.press([]string{"enter"}, atPreflight)
	s.press([]string{"enter"}, "TEST failback: the Azure VMs keep running; nothing on premises is overwritten")
	m := s.final()
	v := m.View()
	for _, want := range []string{"Test VMs", "NAME-test on each VM's own host", "keep running: a test never stops them", "start the test failback"} {
		if !strings.Contains(v, want) {
			t.Fatalf("summary lacks %q:\n%s", want, v)
		}
	}
	s2 := start(t, f, uitest.Operator, PageWizard, 120, 40, atPlan)
	s2.walkTo("Summary")
	s2.press([]string{"esc", "esc", "esc"}, atSync) // back to Sync: the choice is kept
	s2.press([]string{"down", "down", "enter"}, atCert)
	s2.press([]string{"enter"}, atPreflight)
	s2.press([]string{"enter"}, "TEST failback")
	s2.press([]string{"enter"}, "Started 250512-0900-01")
	s2.final()
	want := workflow.Choices{Plan: "web-shop", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal,
		Sync: workflow.SyncDelta, Test: true, CertThumbprint: uitest.ThumbGood}
	if st := f.Starts(); len(st) != 1 || !reflect.DeepEqual(st[0].Choices, want) {
		t.Fatalf("Start calls %+v, want one with %+v", st, want)
	}
}

// A test runs where the VMs' disks are: with an alternate location the
// test option says so and does not go on.
func TestWizardTestNeedsTheOriginalLocation(t *testing.T) {
	f := uitest.New()
	s := start(t, f, uitest.Operator, PageWizard, 120, 40, atPlan)
	s.walkTo("Location")
	s.press([]string{"tab", "down"}, "not on hv02.example.com")
	s.press([]string{"enter"}, "The location check failed")
	s.press([]string{"space"}, "will be created")
	s.press([]string{"enter"}, atSync)
	s.press([]string{"down", "down"}, "> (•) Test failback")
	s.press([]string{"enter"}, "Test failback: a test runs where the VMs' disks are")
	m := s.final()
	if !strings.Contains(m.View(), "not now: a test runs where the VMs' disks are") {
		t.Fatalf("the option does not say why it cannot be taken:\n%s", m.View())
	}
	if m.WizardStep() != "Sync" || f.Calls("Start") != 0 {
		t.Fatalf("a test with an alternate location went on: step %s", m.WizardStep())
	}
}

package ui

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// The whole walk ends in exactly one Start with the operator's choices,
// and nothing is started before the last confirmation.
func TestWizardWalkStartsWithChoices(t *testing.T) {
	f := uitest.New()
	s := start(t, f, uitest.Operator, PageWizard, 80, 24, atPlan)
	s.walkTo("Summary")
	if n := f.Calls("Start"); n != 0 {
		t.Fatalf("Start called %d times before the last confirmation", n)
	}
	s.press([]string{"enter"}, "Started 250512-0900-01", "web01-os")
	m := s.final()

	starts := f.Starts()
	if len(starts) != 1 {
		t.Fatalf("Start called %d times, want 1", len(starts))
	}
	want := workflow.Choices{
		Plan: "web-shop", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal,
		Sync: workflow.SyncDelta, CertThumbprint: uitest.ThumbGood,
	}
	if !reflect.DeepEqual(starts[0].Choices, want) {
		t.Errorf("Start got %+v, want %+v", starts[0].Choices, want)
	}
	if starts[0].Who != uitest.Operator {
		t.Errorf("Start by %+v, want %+v", starts[0].Who, uitest.Operator)
	}
	if m.Page() != PageMonitor || m.monitor.Selected() != "250512-0900-01" {
		t.Errorf("after Start: page %v, selected %q; want the monitor on 250512-0900-01", m.Page(), m.monitor.Selected())
	}
	// The program is gone (as when a session closes): the job's context
	// must not have ended with it.
	m.Close()
	if err := starts[0].Ctx.Err(); err != nil {
		t.Errorf("Start's context ended with the console: %v", err)
	}
}

// Alternate host, create-VM, full sync and an expired certificate (which
// needs the override key) all reach Start.
func TestWizardAlternateFullExpiredOverride(t *testing.T) {
	f := uitest.New()
	s := start(t, f, uitest.Operator, PageWizard, 120, 40, atPlan)
	s.walkTo("Location")
	s.press([]string{"tab", "down"}, "not on hv02.example.com")
	s.press([]string{"enter"}, "The location check failed")
	s.press([]string{"space"}, "will be created")
	s.press([]string{"enter"}, atSync)
	s.press([]string{"down", "enter"}, atCert)
	s.press([]string{"down", "down", "enter"}, "lab does not unlock these disks (does not unlock sql01-data.vhd)")
	s.press([]string{"up", "enter"}, "press o to use it anyway")
	if m := f.Calls("Preflight"); m != 0 {
		t.Fatalf("an expired certificate went on without the override")
	}
	s.press([]string{"o"}, atPreflight)
	s.press([]string{"enter"}, "EXPIRED, override")
	s.press([]string{"enter"}, "Started 250512-0900-01")
	s.final()

	want := workflow.Choices{
		Plan: "web-shop", Direction: workflow.DirAzureToOnPrem,
		Location: workflow.LocAlternate, AltHost: "hv02.example.com", CreateVM: true,
		Sync: workflow.SyncFull, CertThumbprint: uitest.ThumbExpired, AllowExpiredCert: true,
	}
	if st := f.Starts(); len(st) != 1 || !reflect.DeepEqual(st[0].Choices, want) {
		t.Fatalf("Start calls %+v, want one with %+v", st, want)
	}
}

// Going back keeps every choice, and going forward again reuses them.
func TestWizardBackKeepsChoices(t *testing.T) {
	f := uitest.New()
	s := start(t, f, uitest.Operator, PageWizard, 120, 40, atPlan)
	s.walkTo("Location")
	s.press([]string{"tab", "down", "space"}, "will be created")
	s.press([]string{"enter"}, atSync)
	s.press([]string{"down", "enter"}, atCert)
	s.press([]string{"enter"}, atPreflight)
	s.press([]string{"enter"}, atSummary, "alternate host hv02.example.com")

	// Back to the location: alternate, hv02, create VM still chosen.
	s.press([]string{"esc"}, atPreflight)
	s.press([]string{"esc"}, atCert)
	s.press([]string{"esc"}, "> (•) Full")
	s.press([]string{"esc"}, "Checks on hv02.example.com", "will be created")
	s.press([]string{"esc"}, "Direction confirmed")
	s.press([]string{"esc"}, atPlan)
	// And forward again without changing anything.
	s.press([]string{"enter"}, "Direction confirmed")
	s.press([]string{"enter"}, "will be created")
	s.press([]string{"enter"}, "> (•) Full")
	s.press([]string{"enter"}, atCert)
	s.press([]string{"enter"}, atPreflight)
	s.press([]string{"enter"}, atSummary)
	s.press([]string{"enter"}, "Started 250512-0900-01")
	s.final()

	st := f.Starts()
	if len(st) != 1 {
		t.Fatalf("Start called %d times, want 1", len(st))
	}
	c := st[0].Choices
	if c.Location != workflow.LocAlternate || c.AltHost != "hv02.example.com" || !c.CreateVM || c.Sync != workflow.SyncFull {
		t.Errorf("choices after going back and forth: %+v", c)
	}
}

// A failing pre-flight blocks the wizard until the checks pass.
func TestWizardPreflightFailureBlocks(t *testing.T) {
	f := uitest.New()
	f.FailPreflight(1)
	s := start(t, f, uitest.Operator, PageWizard, 80, 24, atPlan)
	s.walkTo("Certificate")
	s.press([]string{"enter"}, "1 of 11 checks failed")
	s.press([]string{"enter"}, "1 check(s) failed: fix them")
	s.press([]string{"r"}, "All 11 checks passed")
	s.press([]string{"enter"}, atSummary)
	if m := s.final(); m.WizardStep() != "Summary" {
		t.Errorf("at %q, want Summary", m.WizardStep())
	}
	if n := f.Calls("Preflight"); n != 2 {
		t.Errorf("Preflight ran %d times, want 2", n)
	}
}

// Without encrypted disks the certificate step is skipped both ways.
func TestWizardSkipsCertificateWithoutEncryption(t *testing.T) {
	f := uitest.New()
	s := start(t, f, uitest.Operator, PageWizard, 80, 24, atPlan)
	s.press([]string{"down", "enter"}, atDirection)
	s.press([]string{"y"}, "present on hv02.example.com")
	s.press([]string{"enter"}, atSync)
	s.press([]string{"enter"}, atPreflight, "(Certificate)")
	s.press([]string{"esc"}, "[Sync]")
	m := s.final()
	if m.WizardStep() != "Sync" {
		t.Errorf("back from pre-flight went to %q, want Sync", m.WizardStep())
	}
}

// A viewer is offered no action it cannot take: no "n new failback",
// no wizard (whose pre-flight would reach the hosts), even when asked for
// it; the console shows the monitor instead.
func TestViewerGetsNoWizard(t *testing.T) {
	f := uitest.New()
	s := start(t, f, uitest.Viewer, PageWizard, 80, 24, "No jobs yet. An operator can start one.")
	s.press([]string{"n"})
	m := s.final()
	if m.Page() != PageMonitor || strings.Contains(m.View(), "new failback") {
		t.Errorf("viewer: page %v, view:\n%s", m.Page(), m.View())
	}
	for _, call := range []string{"Plans", "Preflight", "CheckLocation", "Estimate"} {
		if n := f.Calls(call); n != 0 && call != "Plans" {
			t.Errorf("%s called %d times for a viewer", call, n)
		}
	}
}

// When the service refuses (whatever the UI thought), its reason shows.
func TestWizardServiceRefusalShown(t *testing.T) {
	f := uitest.New()
	f.Refuse(errors.New("another job already covers web01: finish or cancel job-7 first"))
	s := start(t, f, uitest.Operator, PageWizard, 80, 24, atPlan)
	s.walkTo("Summary")
	s.press([]string{"enter"}, "Start refused: another job already covers web01")
	m := s.final()
	if m.WizardStep() != "Summary" || len(f.Jobs()) != 0 {
		t.Errorf("refused start: step %q, jobs %d", m.WizardStep(), len(f.Jobs()))
	}
}

// Answers to questions no longer asked are dropped: only the check of
// the host on screen counts.
func TestWizardDropsStaleLocationAnswers(t *testing.T) {
	f := uitest.New()
	release := f.Hold("CheckLocation")
	s := start(t, f, uitest.Operator, PageWizard, 120, 40, atPlan)
	s.press([]string{"enter"}, atDirection)
	s.press([]string{"y"}, "checking the original hosts")
	s.press([]string{"tab"}, "checking hv01.example.com")
	s.press([]string{"down"}, "checking hv02.example.com")
	release()
	s.press(nil, "not on hv02.example.com")
	m := s.final()
	v := m.View()
	if strings.Contains(v, "Could not check") || strings.Contains(v, "present on hv01") {
		t.Errorf("a stale answer was shown:\n%s", v)
	}
	if n := f.Calls("CheckLocation"); n != 3 {
		t.Errorf("CheckLocation called %d times, want 3", n)
	}
}

// An alternate host without the VMs' switch offers to map it to one it
// has: m maps it, the check passes, and the summary and Start carry it.
func TestWizardMapsAMissingSwitch(t *testing.T) {
	f := uitest.New()
	s := start(t, f, uitest.Operator, PageWizard, 100, 30, atPlan)
	s.walkTo("Location")
	s.press([]string{"tab", "down", "down", " "}, "no virtual switch named LAN on hv03", "missing here: LAN (m: map it to Internal, Storage)")
	s.press([]string{"m"}, "switch LAN -> Internal on this host", "mapped to Internal (your choice)")
	s.press([]string{"m"}, "switch LAN -> Storage on this host")
	s.press([]string{"enter"}, atSync)
	s.press([]string{"enter"}, atCert)
	s.press([]string{"enter"}, atPreflight)
	s.press([]string{"enter"}, atSummary, "switch LAN -> Storage")
	s.press([]string{"enter"}, "Started")
	s.final()
	st := f.Starts()
	if len(st) != 1 || st[0].Choices.SwitchMap["LAN"] != "Storage" || st[0].Choices.AltHost != "hv03.example.com" {
		t.Fatalf("Start got %+v", st)
	}
}

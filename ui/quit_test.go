package ui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/uitest"
)

func quits(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// When this console drives the jobs, q while one runs says that quitting
// stops it and quits only on a second q; any other key keeps it open.
func TestQuitAsksWhileJobsRunHere(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	m := New(f, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageMonitor, QuitStopsJobs: true})
	t.Cleanup(m.Close)
	if _, cmd := m.Update(press("q")); quits(cmd) {
		t.Fatal("q quit at once while a job runs in this console")
	}
	if !strings.Contains(m.View(), "quitting stops them") {
		t.Fatalf("no warning:\n%s", m.View())
	}
	m.Update(press("down")) // changed their mind
	if _, cmd := m.Update(press("q")); quits(cmd) {
		t.Fatal("a q after another key quit without asking again")
	}
	if _, cmd := m.Update(press("q")); !quits(cmd) {
		t.Fatal("the second q did not quit")
	}
}

// Attached to another driver (failback serve), or with nothing running,
// q quits at once.
func TestQuitAtOnceWhenNothingStops(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	attached := New(f, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageMonitor})
	t.Cleanup(attached.Close)
	if _, cmd := attached.Update(press("q")); !quits(cmd) {
		t.Fatal("an attached console asked before quitting")
	}
	idle := New(uitest.New(), uitest.Operator, Options{Renderer: asciiRenderer(), QuitStopsJobs: true})
	t.Cleanup(idle.Close)
	if _, cmd := idle.Update(press("q")); !quits(cmd) {
		t.Fatal("q with no running job asked before quitting")
	}
}

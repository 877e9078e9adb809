package ui

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// TestMain pins the local time zone: the console shows local times, and
// golden files must not depend on where the tests run.
func TestMain(m *testing.M) {
	time.Local = time.UTC
	os.Exit(m.Run())
}

// asciiRenderer is a renderer with no colours, as golden files need.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

// newModel builds a root model on the fake at a fixed size.
func newModel(t *testing.T, f *uitest.Fake, who workflow.Actor, page Page, w, h int) *Model {
	t.Helper()
	m := New(f, who, Options{Renderer: asciiRenderer(), Page: page, Width: w, Height: h, Now: fixedNow})
	t.Cleanup(m.Close)
	return m
}

// fixedNow is the console's clock in tests: an hour after the fake's
// epoch, so ages in golden files never depend on the wall clock.
func fixedNow() time.Time { return uitest.Epoch.Add(time.Hour) }

// press is a key press as bubbletea delivers it.
func press(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// checkFits fails when a view is wider or taller than the terminal.
func checkFits(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) > h {
		t.Errorf("view has %d lines, terminal %d", len(lines), h)
	}
	for i, l := range lines {
		if n := lipgloss.Width(l); n > w {
			t.Errorf("line %d is %d columns wide, terminal %d: %q", i+1, n, w, l)
		}
	}
}

package logview

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/ui/keys"
	"github.com/failback/failback/ui/styles"
	"github.com/failback/failback/workflow"
)

func model(w, h int, lines []workflow.LogLine) *Model {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := New(&common.Common{Ctx: context.Background(), Styles: styles.New(r), Keys: keys.New()})
	m.SetLines(lines)
	m.SetSize(w, h)
	return m
}

// A long event wraps under its text, keeping its end (what to do).
func TestLongEventsWrapNotCut(t *testing.T) {
	at := time.Date(2026, 11, 28, 13, 43, 1, 0, time.Local)
	m := model(80, 4, []workflow.LogLine{
		{Time: at, Level: "info", Text: "catch-up done after pass 1: it moved 6.0 MiB"},
		{Time: at, Level: "info", Text: "ready to complete failover: the on-premises disks hold the last snapshot; Complete failover shuts the Azure VMs down and moves what changed since"},
	})
	v := m.View()
	for _, l := range strings.Split(v, "\n") {
		if lipgloss.Width(l) > 80 {
			t.Errorf("line wider than 80: %q", l)
		}
	}
	if !strings.Contains(v, "what changed since") || !strings.Contains(v, "13:43:01 info  catch-up done") {
		t.Fatalf("events cut:\n%s", v)
	}
}

// Page keys go back to older events and forward to the newest.
func TestScrollsBackToOlderEvents(t *testing.T) {
	var lines []workflow.LogLine
	at := time.Date(2026, 11, 28, 13, 0, 0, 0, time.Local)
	for i := range 20 {
		lines = append(lines, workflow.LogLine{Time: at.Add(time.Duration(i) * time.Second), Level: "info", Text: fmt.Sprintf("event %02d", i)})
	}
	m := model(80, 5, lines)
	if v := m.View(); !strings.Contains(v, "event 19") || strings.Contains(v, "event 10") {
		t.Fatalf("newest first:\n%s", v)
	}
	for range 4 {
		m.Update(tea.KeyMsg{Type: tea.KeyPgUp})
	}
	if v := m.View(); !strings.Contains(v, "event 10") || strings.Contains(v, "event 19") || !strings.Contains(v, "newer event(s) below") {
		t.Fatalf("after pgup:\n%s", v)
	}
	for range 10 {
		m.Update(tea.KeyMsg{Type: tea.KeyPgDown})
	}
	if v := m.View(); !strings.Contains(v, "event 19") || strings.Contains(v, "below") {
		t.Fatalf("back at the newest:\n%s", v)
	}
}

// Package logview shows the newest lines of a job's event log.
package logview

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// Model is the log view.
type Model struct {
	c     *common.Common
	lines []workflow.LogLine
	back  int // events scrolled back from the newest
	w, h  int
}

var _ common.Component = (*Model)(nil)

// New returns an empty log view.
func New(c *common.Common) *Model { return &Model{c: c} }

// SetLines replaces the lines; they are shown oldest first whatever order
// the service returned them in.
func (m *Model) SetLines(ls []workflow.LogLine) {
	ls = append([]workflow.LogLine(nil), ls...)
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].Time.Before(ls[j].Time) })
	m.lines = ls
}

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }

// Height is the number of lines the view has.
func (m *Model) Height() int { return m.h }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: page keys scroll back through older
// events (by half a view), and forward to the newest.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		step := max(m.h/2, 1)
		switch {
		case key.Matches(k, m.c.Keys.PageUp):
			m.back = min(m.back+step, max(len(m.lines)-1, 0))
		case key.Matches(k, m.c.Keys.PageDown):
			m.back = max(m.back-step, 0)
		}
	}
	return m, nil
}

// View implements tea.Model: the newest events that fit, oldest on top.
// A long event wraps under its text rather than losing its end (the end
// often says what to do); times are the viewer's local time.
func (m *Model) View() string {
	st := m.c.Styles
	if len(m.lines) == 0 {
		return st.Subtle.Render("(no events yet)")
	}
	var out []string
	back := min(m.back, len(m.lines)-1)
	h := m.h
	if back > 0 {
		h-- // the last line says the view is scrolled
	}
	for i := len(m.lines) - 1 - back; i >= 0 && len(out) < h; i-- {
		l := m.lines[i]
		lvl := common.Pad(l.Level, 5)
		switch l.Level {
		case "warn":
			lvl = st.Warn.Render(lvl)
		case "error":
			lvl = st.Error.Render(lvl)
		default:
			lvl = st.Subtle.Render(lvl)
		}
		ev := common.Hang(l.Time.Local().Format("15:04:05")+" "+lvl+" ", l.Text, 15, m.w)
		if len(out)+len(ev) > h && len(out) > 0 {
			break // an older event that no longer fits whole
		}
		out = append(ev, out...)
	}
	if len(out) > h {
		out = out[:h] // one event taller than the view: its start
	}
	if back > 0 {
		out = append(out, st.Subtle.Render(fmt.Sprintf("  (%d newer event(s) below; pgdn)", back)))
	}
	return common.Clamp(strings.Join(out, "\n"), m.w, m.h)
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return []key.Binding{m.c.Keys.Monitor.Log} }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// Package checklist renders location and pre-flight checks: every row,
// and for a failed one what to do about it.
package checklist

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// Model is a scrollable list of checks.
type Model struct {
	c      *common.Common
	rows   []workflow.CheckRow
	offset int
	w, h   int
}

var _ common.Component = (*Model)(nil)

// New returns an empty list.
func New(c *common.Common) *Model { return &Model{c: c} }

// SetRows replaces the checks.
func (m *Model) SetRows(rows []workflow.CheckRow) {
	m.rows = rows
	m.offset = 0
}

// Failed counts the failed checks.
func (m *Model) Failed() int {
	n := 0
	for _, r := range m.rows {
		if !r.OK {
			n++
		}
	}
	return n
}

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: page keys scroll long lists.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, m.c.Keys.PageDown):
			m.offset += max(m.h-1, 1)
		case key.Matches(k, m.c.Keys.PageUp):
			m.offset -= max(m.h-1, 1)
		}
		_, m.offset = common.Window(m.lines(), m.offset, m.h, "", nil)
	}
	return m, nil
}

func (m *Model) lines() []string {
	st := m.c.Styles
	vmw := 0
	for _, r := range m.rows {
		vmw = max(vmw, len(r.VM))
	}
	var out []string
	for _, r := range m.rows {
		mark := st.OK.Render("✓")
		if !r.OK {
			mark = st.Fail.Render("✗")
		}
		vm := ""
		if vmw > 0 {
			vm = common.Pad(r.VM, vmw) + " "
		}
		out = append(out, fmt.Sprintf("%s %s%s %s", mark, vm, common.Pad(r.What, 22), r.Detail))
		if !r.OK && r.Fix != "" {
			out = append(out, st.Warn.Render("    fix: "+r.Fix))
		}
	}
	return out
}

// View implements tea.Model.
func (m *Model) View() string {
	view, _ := common.Window(m.lines(), m.offset, m.h, "pgup/pgdn", m.c.Styles.Subtle.Render)
	return common.Clamp(strings.Join(view, "\n"), m.w, m.h)
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	if len(m.lines()) <= m.h {
		return nil
	}
	return []key.Binding{m.c.Keys.PageDown}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	return [][]key.Binding{{m.c.Keys.PageUp, m.c.Keys.PageDown}}
}

// Package checklist renders location and pre-flight checks: every row,
// and for a failed one what to do about it.
package checklist

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

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

// grouped returns the failed rows first (a long list must not hide
// them below the fold), then the passed ones; in each part the checks
// of the whole job (no VM) come first, then each VM's rows together,
// VMs in the order they first appear (the service interleaves them by
// check).
func grouped(rows []workflow.CheckRow) []workflow.CheckRow {
	var order []string
	type key struct {
		ok bool
		vm string
	}
	by := map[key][]workflow.CheckRow{}
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.VM] {
			seen[r.VM] = true
			order = append(order, r.VM)
		}
		k := key{r.OK, r.VM}
		by[k] = append(by[k], r)
	}
	out := make([]workflow.CheckRow, 0, len(rows))
	for _, ok := range []bool{false, true} {
		out = append(out, by[key{ok, ""}]...) // checks of the whole job first
		for _, vm := range order {
			if vm != "" {
				out = append(out, by[key{ok, vm}]...)
			}
		}
	}
	return out
}

// Columns: mark, VM (its name on the first row of its group only), what
// was checked, and the result. Both text columns wrap inside their
// width; when the terminal is too narrow for two readable columns the
// result goes under the check instead of being cut.
const (
	minDetail  = 24 // narrower than this, the detail goes on its own lines
	wantDetail = 30 // "what" gives way so the detail gets this much
)

func (m *Model) lines() []string {
	st := m.c.Styles
	rows := grouped(m.rows)
	vmw, whatw, detw := 0, 0, 0
	for _, r := range rows {
		vmw = max(vmw, ansi.StringWidth(r.VM))
		whatw = max(whatw, ansi.StringWidth(r.What))
		detw = max(detw, ansi.StringWidth(r.Detail))
	}
	lead := 2 // mark and a space
	if vmw > 0 {
		lead += vmw + 1
	}
	whatw = min(whatw, max(m.w-lead-1-min(detw, wantDetail), 16))
	detw = m.w - lead - whatw - 1
	stacked := detw < minDetail
	var out []string
	for i, r := range rows {
		mark := st.OK.Render("✓")
		switch {
		case !r.OK:
			mark = st.Fail.Render("✗")
		case r.Warning:
			mark = st.Warn.Render("!")
		}
		vm := ""
		if vmw > 0 {
			name := r.VM
			if i > 0 && rows[i-1].VM == r.VM && rows[i-1].OK == r.OK {
				name = ""
			}
			vm = common.Pad(name, vmw) + " "
		}
		pad := strings.Repeat(" ", lead)
		if stacked {
			for k, l := range common.WrapCell(r.What, m.w-lead) {
				if k == 0 {
					out = append(out, mark+" "+vm+l)
				} else {
					out = append(out, pad+l)
				}
			}
			for _, l := range common.WrapCell(r.Detail, m.w-lead-2) {
				out = append(out, pad+"  "+l)
			}
		} else {
			what, det := common.WrapCell(r.What, whatw), common.WrapCell(r.Detail, detw)
			for k := range max(len(what), len(det)) {
				w, d := "", ""
				if k < len(what) {
					w = what[k]
				}
				if k < len(det) {
					d = det[k]
				}
				line := pad + common.Pad(w, whatw) + " " + d
				if k == 0 {
					line = mark + " " + vm + common.Pad(w, whatw) + " " + d
				}
				out = append(out, strings.TrimRight(line, " "))
			}
		}
		if (!r.OK || r.Warning) && r.Fix != "" {
			for _, l := range common.Hang(pad+"fix: ", r.Fix, lead+5, m.w) {
				out = append(out, st.Warn.Render(l))
			}
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

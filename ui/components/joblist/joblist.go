// Package joblist lists every job and its state, active jobs first (those
// that move or wait for the operator), then the others, each newest
// first; the cursor picks the job the monitor details. When the jobs do
// not fit, the list scrolls with the cursor and its last line says how
// many more there are above and below.
package joblist

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// SelectedMsg says the cursor moved to another job.
type SelectedMsg struct{ ID string }

// Model is the job list.
type Model struct {
	c      *common.Common
	jobs   []workflow.JobView
	cursor int
	offset int
	w, h   int
}

var _ common.Component = (*Model)(nil)

// New returns an empty list.
func New(c *common.Common) *Model { return &Model{c: c} }

// SetJobs replaces the jobs (in Service.Jobs' order; the list puts the
// active ones first), keeping the cursor on the same job id.
func (m *Model) SetJobs(jobs []workflow.JobView) {
	sel := m.SelectedID()
	m.jobs = workflow.ActiveFirst(jobs)
	m.cursor = 0
	for i, j := range m.jobs {
		if j.ID == sel {
			m.cursor = i
		}
	}
	m.scroll()
}

// Rows is how many lines the list wants for n jobs when it may take at
// most limit: a header, the jobs, and a line saying how many more when
// they do not all fit.
func Rows(n, limit int) int {
	switch {
	case n == 0:
		return 1
	case n+1 <= limit:
		return n + 1
	}
	return max(limit, 3)
}

// Select moves the cursor to job id, if present.
func (m *Model) Select(id string) {
	for i, j := range m.jobs {
		if j.ID == id {
			m.cursor = i
		}
	}
	m.scroll()
}

// Jobs returns the listed jobs.
func (m *Model) Jobs() []workflow.JobView { return m.jobs }

// SelectedID is the job under the cursor, "" when there is none.
func (m *Model) SelectedID() string {
	if j, ok := m.Selected(); ok {
		return j.ID
	}
	return ""
}

// Selected is the job under the cursor.
func (m *Model) Selected() (workflow.JobView, bool) {
	if m.cursor < 0 || m.cursor >= len(m.jobs) {
		return workflow.JobView{}, false
	}
	return m.jobs[m.cursor], true
}

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.scroll()
}

// rows is how many jobs fit: the height less the header and, when some
// do not fit, the line that says so.
func (m *Model) rows() int {
	if len(m.jobs) <= m.h-1 {
		return max(m.h-1, 1)
	}
	return max(m.h-2, 1)
}

func (m *Model) scroll() {
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+m.rows() {
		m.offset = m.cursor - m.rows() + 1
	}
	m.offset = max(min(m.offset, len(m.jobs)-m.rows()), 0) // no empty rows while jobs are hidden above
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok || len(m.jobs) == 0 {
		return m, nil
	}
	before := m.cursor
	switch {
	case key.Matches(k, m.c.Keys.Up):
		m.cursor = max(m.cursor-1, 0)
	case key.Matches(k, m.c.Keys.Down):
		m.cursor = min(m.cursor+1, len(m.jobs)-1)
	}
	m.scroll()
	if m.cursor != before {
		return m, common.Send(SelectedMsg{ID: m.SelectedID()})
	}
	return m, nil
}

// StateText is a job's state as the list shows it, with the catch-up
// pass while one runs (a pass number on any other state would read as
// if that state had passes).
func StateText(j workflow.JobView) string {
	if j.State == workflow.StateCatchUp && j.Pass > 0 {
		return fmt.Sprintf("catch-up #%d", j.Pass)
	}
	return string(j.State)
}

// Title is a job's plan or VM as the list shows it: a test failback is
// marked TEST, so no one takes it for a failback that moved production.
func Title(j workflow.JobView) string {
	if j.Test != nil || j.Choices.Test {
		return "TEST " + j.Title
	}
	return j.Title
}

// columns sizes JOB, PLAN/VM and STATE to what they hold, so ids of any
// length (older state folders have longer ones) keep the table
// aligned; PLAN/VM gives way first when the terminal is narrow.
func (m *Model) columns() (idW, titleW, stateW int) {
	// STATE is always as wide as the longest state, so the columns do
	// not jump when a job moves on.
	idW, titleW, stateW = len("JOB"), len("PLAN/VM"), len(workflow.StateReverse)
	for _, j := range m.jobs {
		idW = max(idW, ansi.StringWidth(j.ID))
		titleW = max(titleW, ansi.StringWidth(Title(j)))
		stateW = max(stateW, ansi.StringWidth(StateText(j)))
	}
	// cursor, gaps, VMS and DONE, and room for a short owner
	fixed := 2 + idW + 1 + 1 + stateW + 1 + 3 + 1 + 4 + 2 + 8
	titleW = max(min(titleW, m.w-fixed), 7)
	return idW, titleW, stateW
}

// View implements tea.Model.
func (m *Model) View() string {
	st := m.c.Styles
	if len(m.jobs) == 0 {
		if m.c.CanAct() {
			return st.Subtle.Render("No jobs yet. Press n to start a failback.")
		}
		return st.Subtle.Render("No jobs yet. An operator can start one.")
	}
	idW, titleW, stateW := m.columns()
	row := func(id, title, state, vms, done, owner string) string {
		return strings.Join([]string{common.Pad(id, idW), common.Pad(title, titleW), common.Pad(state, stateW),
			common.PadLeft(vms, 3), common.PadLeft(done, 4), " " + owner}, " ")
	}
	var b strings.Builder
	b.WriteString(st.Subtle.Render("  " + row("JOB", "PLAN/VM", "STATE", "VMS", "DONE", "OWNER")))
	end := min(m.offset+m.rows(), len(m.jobs))
	for i := m.offset; i < end; i++ {
		j := m.jobs[i]
		line := row(j.ID, Title(j), StateText(j), fmt.Sprint(len(j.VMs)), j.DoneText(), j.Owner.Name)
		b.WriteString("\n")
		if i == m.cursor {
			b.WriteString(st.Selected.Render("> " + line))
		} else {
			b.WriteString("  " + line)
		}
	}
	if above, below := m.offset, len(m.jobs)-end; above+below > 0 {
		b.WriteString("\n" + st.Subtle.Render("  "+moreText(above, below)))
	}
	return common.Clamp(b.String(), m.w, m.h)
}

// moreText says how many jobs the list does not show.
func moreText(above, below int) string {
	var parts []string
	if below > 0 {
		parts = append(parts, fmt.Sprintf("%d more below", below))
	}
	if above > 0 {
		parts = append(parts, fmt.Sprintf("%d more above", above))
	}
	return "… " + strings.Join(parts, ", ") + " (↑/↓)"
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return []key.Binding{m.c.Keys.Up, m.c.Keys.Down} }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

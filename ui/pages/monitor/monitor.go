// Package monitor is the live view: the job list and, for the selected
// job, every VM and disk with progress bars, the event log and the
// actions that apply now. It never polls per block: the root asks it for
// a fresh snapshot at most a few times a second.
package monitor

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/ui/components/actionbar"
	"github.com/failback/failback/ui/components/confirm"
	"github.com/failback/failback/ui/components/disktable"
	"github.com/failback/failback/ui/components/joblist"
	"github.com/failback/failback/ui/components/logview"
	"github.com/failback/failback/workflow"
)

// LogLines is how many log lines are read per refresh.
const LogLines = 50

// SnapshotMsg is one consistent read of the service: every job, and the
// actions and log of the job that was selected when it was asked for.
type SnapshotMsg struct {
	For     string
	Jobs    []workflow.JobView
	Actions []workflow.ActionState
	Log     []workflow.LogLine
}

// Model is the monitor page.
type Model struct {
	c       *common.Common
	jobs    *joblist.Model
	disks   *disktable.Model
	log     *logview.Model
	actions *actionbar.Model
	dialog  *confirm.Model
	recheck *actTag // a press waiting for a fresh snapshot
	want    string  // job to select once it shows up in a snapshot
	logFull bool
	w, h    int
}

var _ common.Component = (*Model)(nil)

// New returns an empty monitor; call Load or Refresh to fill it.
func New(c *common.Common) *Model {
	return &Model{
		c: c, jobs: joblist.New(c), disks: disktable.New(c),
		log: logview.New(c), actions: actionbar.New(c),
	}
}

// snapshot reads the service for job sel ("" selects the newest job).
func snapshot(svc workflow.Service, who workflow.Actor, sel string) SnapshotMsg {
	jobs := svc.Jobs()
	found := false
	for _, j := range jobs {
		found = found || j.ID == sel
	}
	if !found {
		sel = ""
		if len(jobs) > 0 {
			sel = jobs[0].ID
		}
	}
	msg := SnapshotMsg{For: sel, Jobs: jobs}
	if sel != "" {
		msg.Actions = svc.Actions(sel, who)
		msg.Log = svc.Log(sel, LogLines)
	}
	return msg
}

func (m *Model) selection() string {
	if m.want != "" {
		return m.want
	}
	return m.jobs.SelectedID()
}

// Load reads the service once, synchronously, so the first frame is
// complete (used before the program starts).
func (m *Model) Load() { m.apply(snapshot(m.c.Svc, m.c.Who, m.selection())) }

// Refresh returns a command that reads a snapshot off the UI goroutine.
func (m *Model) Refresh() tea.Cmd {
	svc, who, sel := m.c.Svc, m.c.Who, m.selection()
	return func() tea.Msg { return snapshot(svc, who, sel) }
}

// Select shows job id as soon as a snapshot contains it.
func (m *Model) Select(id string) tea.Cmd {
	m.want = id
	return m.Refresh()
}

// Selected is the selected job's id.
func (m *Model) Selected() string { return m.jobs.SelectedID() }

// Jobs is the last snapshot of the jobs.
func (m *Model) Jobs() []workflow.JobView { return m.jobs.Jobs() }

// DialogOpen says a confirmation is waiting for an answer.
func (m *Model) DialogOpen() bool { return m.dialog != nil }

// apply takes a snapshot in. Actions and log are used only if they belong
// to the job now selected: a late answer for another job is not shown.
func (m *Model) apply(s SnapshotMsg) {
	m.jobs.SetJobs(s.Jobs)
	if m.want != "" && s.For == m.want {
		m.jobs.Select(m.want)
		m.want = ""
	}
	j, ok := m.jobs.Selected()
	if !ok {
		m.disks.SetJob(nil)
		m.actions.SetStates(nil)
		m.log.SetLines(nil)
		return
	}
	m.disks.SetJob(&j)
	if s.For == j.ID {
		m.actions.SetStates(s.Actions)
		m.log.SetLines(s.Log)
	}
}

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.layout()
}

// layout splits the height: job list, job title, disks, log, action bar.
func (m *Model) layout() {
	jobsH := joblist.Rows(len(m.jobs.Jobs()), max(5, m.h/5+1))
	titleH := 1
	if j, ok := m.jobs.Selected(); ok {
		titleH = len(m.titleLines(j))
	}
	logH := 0
	switch {
	case m.h >= 20:
		logH = min(max(m.h/5, 4), 10)
	case m.h >= 14:
		logH = 2
	}
	m.actions.SetSize(m.w, 1)
	avail := m.h - jobsH - titleH - m.actions.Height()
	rest := avail
	if logH > 0 {
		rest -= logH + 1
	}
	if rest < 0 {
		// The action list (help open) or a tall title needs the room:
		// the disks and then the log give way, never the actions.
		logH = max(avail-1, 0)
		rest = max(avail-logH-1, 0)
		if logH == 0 {
			rest = max(avail, 0)
		}
	}
	if m.logFull {
		logH, rest = logH+max(rest, 0), 0
	}
	m.jobs.SetSize(m.w, jobsH)
	m.disks.SetSize(m.w, max(rest, 0))
	m.log.SetSize(m.w, logH)
	if m.dialog != nil {
		m.dialog.SetSize(m.w, m.h)
	}
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case SnapshotMsg:
		m.apply(msg)
		m.layout()
		cmd := m.checkDialog()
		if r := m.recheck; r != nil && msg.For == r.job {
			m.recheck = nil
			if r.job == m.jobs.SelectedID() && m.dialog == nil {
				cmd = tea.Batch(cmd, m.pressNow(r.action))
			}
		}
		if msg.For != m.selection() {
			return m, tea.Batch(cmd, m.Refresh()) // the selection moved meanwhile
		}
		return m, cmd
	case joblist.SelectedMsg:
		j, _ := m.jobs.Selected()
		m.disks.SetJob(&j)
		m.actions.SetStates(nil) // unknown until the snapshot for this job
		m.log.SetLines(nil)
		return m, m.Refresh()
	case confirm.DoneMsg:
		m.dialog = nil
		t, ok := msg.Tag.(actTag)
		if !ok || !msg.OK {
			return m, common.Status("Nothing done.", false)
		}
		return m, m.act(t)
	case actDoneMsg:
		return m, tea.Batch(m.actDone(msg), m.Refresh())
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	if m.dialog != nil {
		_, cmd := m.dialog.Update(k)
		return cmd
	}
	km := m.c.Keys
	switch {
	case key.Matches(k, km.Up), key.Matches(k, km.Down):
		_, cmd := m.jobs.Update(k)
		return cmd
	case key.Matches(k, km.PageUp), key.Matches(k, km.PageDown):
		if m.logFull { // the page keys scroll what fills the screen
			_, cmd := m.log.Update(k)
			return cmd
		}
		_, cmd := m.disks.Update(k)
		return cmd
	case key.Matches(k, km.Monitor.Log):
		m.logFull = !m.logFull
		m.layout()
		return nil
	case key.Matches(k, km.Monitor.NewJob) && m.c.CanAct():
		return common.Send(common.ShowWizardMsg{})
	}
	if a, ok := m.actions.Match(k); ok {
		return m.press(a)
	}
	return nil
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.dialog != nil {
		return common.Fill(m.dialog.View(), m.w, m.h)
	}
	st := m.c.Styles
	parts := []string{m.jobs.View()}
	j, ok := m.jobs.Selected()
	if !ok {
		return common.Fill(parts[0], m.w, m.h)
	}
	parts = append(parts, strings.Join(m.titleLines(j), "\n"))
	if !m.logFull && m.disks.Height() > 0 {
		parts = append(parts, common.Fill(m.disks.View(), m.w, m.disks.Height()))
	}
	if m.log.Height() > 0 {
		parts = append(parts, st.Subtle.Render("Events"), common.Fill(m.log.View(), m.w, m.log.Height()))
	}
	parts = append(parts, m.actions.View())
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += "\n"
		}
		out += p
	}
	return common.Fill(out, m.w, m.h)
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	if m.dialog != nil {
		return m.dialog.ShortHelp()
	}
	// The actions have their keys on the action bar just above.
	km := m.c.Keys
	if m.logFull {
		back, older := km.Monitor.Log, km.PageUp
		back.SetHelp("l", "disks")
		older.SetHelp("pgup/pgdn", "older/newer events")
		return []key.Binding{km.Up, km.Down, older, back}
	}
	if !m.c.CanAct() { // a viewer is offered nothing it cannot do
		return []key.Binding{km.Up, km.Down, km.Monitor.Log}
	}
	return []key.Binding{km.Up, km.Down, km.Monitor.NewJob, km.Monitor.Log}
}

// SetHelpOpen shows every action with why it is (not) possible in place
// of the action bar while the full help is open.
func (m *Model) SetHelpOpen(on bool) {
	m.actions.SetExpanded(on)
	m.layout()
}

// FullHelp implements help.KeyMap; the actions, with why, are listed by
// the expanded action bar meanwhile.
func (m *Model) FullHelp() [][]key.Binding {
	if m.dialog != nil {
		return m.dialog.FullHelp()
	}
	km := m.c.Keys
	if !m.c.CanAct() {
		return [][]key.Binding{{km.Up, km.Down}, {km.PageUp, km.PageDown}, {km.Monitor.Log}}
	}
	return [][]key.Binding{{km.Up, km.Down}, {km.PageUp, km.PageDown}, {km.Monitor.NewJob, km.Monitor.Log}}
}

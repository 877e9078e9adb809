// Package ui is failback's console: a guided failback wizard and a live
// monitor of every job, built with bubbletea. The same root model runs on
// the local terminal (Run) and in every SSH session (package sshsrv); it
// does not know which. Each program gets its own renderer, styles and
// keymap, so nothing here is global.
//
// Layout: pages/ (wizard, monitor: full screens), components/ (job list,
// disk table, action bar, confirm dialog, log view, check list), keys/,
// styles/, common/ (what they share), uitest/ (a deterministic fake
// workflow.Service for tests).
package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/ui/keys"
	"github.com/failback/failback/ui/pages/monitor"
	"github.com/failback/failback/ui/pages/wizard"
	"github.com/failback/failback/ui/styles"
	"github.com/failback/failback/workflow"
)

// Page names a full screen.
type Page int

// Pages. PageAuto opens the monitor when jobs exist, else the wizard.
const (
	PageAuto Page = iota
	PageMonitor
	PageWizard
)

// DefaultRefresh is the longest the console waits, after a change, before
// it reads the jobs again: changes arriving meanwhile are coalesced, so
// the screen updates at most about four times a second.
const DefaultRefresh = 250 * time.Millisecond

// Options configure one console program.
type Options struct {
	// Renderer draws this program's styles (one per terminal or SSH
	// session). Nil: a renderer on stdout, which honours NO_COLOR.
	Renderer *lipgloss.Renderer
	// Context is the lifetime of work the console asks for (Start, Act):
	// the process's or the SSH server's, never a session's. Nil:
	// context.Background().
	Context context.Context
	// Page is the first screen.
	Page Page
	// Refresh is the coalescing interval; 0 means DefaultRefresh.
	Refresh time.Duration
	// Width and Height are used until the first WindowSizeMsg (80x24 if 0).
	Width, Height int
	// Now is the clock the console reads ages from (nil: time.Now).
	Now func() time.Time
	// QuitStopsJobs says this process drives the jobs (the local console
	// with no failback serve behind it): quitting stops the running ones,
	// so q asks again first. Run sets it when svc is a *workflow.Manager.
	QuitStopsJobs bool
}

// Model is the console's root model.
type Model struct {
	c       *common.Common
	cancel  context.CancelFunc
	monitor *monitor.Model
	wizard  *wizard.Model
	page    Page
	help    help.Model
	status  common.StatusMsg
	w, h    int
	refresh time.Duration

	quitStops bool // Options.QuitStopsJobs
	quitArmed bool // q was pressed once while jobs run here

	// seen are the jobs this console has shown (newjobs.go); touched says
	// a key was pressed in the wizard since it opened.
	seen    map[string]bool
	touched bool

	mu      sync.Mutex // guards unsub: Close may come from another goroutine
	unsub   func()
	closed  bool
	pending bool    // a refresh is scheduled
	wait    tea.Cmd // waits for the next change notice
}

var _ tea.Model = (*Model)(nil)

// New returns the root model for actor who. Call Close when its program
// has ended (Run and sshsrv do) to drop its subscription.
func New(svc workflow.Service, who workflow.Actor, o Options) *Model {
	work := o.Context
	if work == nil {
		work = context.Background()
	}
	ctx, cancel := context.WithCancel(work)
	// Everything from outside is drawn only after safetext: the service's
	// answers (job text, log lines, errors) and the actor's name.
	svc = workflow.Sanitized(svc)
	who.Name = safetext.Clean(who.Name)
	st := styles.New(o.Renderer)
	now := o.Now
	if now == nil {
		now = time.Now
	}
	c := &common.Common{Ctx: ctx, WorkCtx: work, Svc: svc, Who: who, Styles: st, Keys: keys.New(), Now: now}
	m := &Model{
		c: c, cancel: cancel, monitor: monitor.New(c),
		help: help.New(), refresh: o.Refresh, w: o.Width, h: o.Height, quitStops: o.QuitStopsJobs,
	}
	m.help.Styles = st.Help
	if m.refresh <= 0 {
		m.refresh = DefaultRefresh
	}
	if m.w <= 0 || m.h <= 0 {
		m.w, m.h = 80, 24
	}
	m.monitor.Load()
	m.seen = jobIDs(m.monitor.Jobs())
	m.page = o.Page
	if m.page == PageAuto {
		m.page = PageMonitor
		if len(m.monitor.Jobs()) == 0 {
			m.page = PageWizard
		}
	}
	if !c.CanAct() {
		m.page = PageMonitor // a viewer starts nothing: no wizard
	}
	if m.page == PageWizard {
		m.wizard = wizard.New(c)
	}
	m.layout()
	return m
}

// Close ends the program's own work: its subscription and its queries.
// It never touches a job. Safe to call more than once, from any goroutine.
func (m *Model) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	m.cancel()
	if m.unsub != nil {
		m.unsub()
	}
}

// Init implements tea.Model: subscribe to job changes and start the page.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.subscribe()}
	if m.wizard != nil {
		cmds = append(cmds, m.wizard.Init())
	}
	return tea.Batch(cmds...)
}

// Page is the screen shown now.
func (m *Model) Page() Page { return m.page }

// WizardStep names the wizard's current step ("" outside the wizard).
func (m *Model) WizardStep() string {
	if m.page != PageWizard || m.wizard == nil {
		return ""
	}
	return m.wizard.Step()
}

// Status is the status line's text.
func (m *Model) Status() string { return m.status.Text }

func (m *Model) active() common.Component {
	if m.page == PageWizard && m.wizard != nil {
		return m.wizard
	}
	return m.monitor
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.layout()
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		return nil
	case changedMsg, refreshDueMsg, subClosedMsg:
		return m.onChange(msg)
	case common.RefreshMsg:
		return m.monitor.Refresh()
	case common.StatusMsg:
		m.status = msg
		return nil
	case common.ShowMonitorMsg:
		m.page, m.wizard = PageMonitor, nil
		if msg.Select != "" {
			return m.monitor.Select(msg.Select)
		}
		return m.monitor.Refresh()
	case common.ShowWizardMsg:
		if !m.c.CanAct() {
			return nil
		}
		m.page, m.wizard, m.status, m.touched = PageWizard, wizard.New(m.c), common.StatusMsg{}, false
		m.layout()
		return m.wizard.Init()
	case monitor.SnapshotMsg:
		_, cmd := m.monitor.Update(msg)
		return tea.Batch(cmd, m.newJobs(msg.Jobs))
	case tea.KeyMsg:
		km := m.c.Keys
		switch {
		case msg.String() == "ctrl+c":
			return tea.Quit
		case key.Matches(msg, km.Quit) && !m.monitor.DialogOpen():
			return m.quit()
		case key.Matches(msg, km.Help):
			m.help.ShowAll = !m.help.ShowAll
			m.monitor.SetHelpOpen(m.help.ShowAll)
			return nil
		}
		m.status = common.StatusMsg{} // a key press answers the last message
		m.quitArmed = false
		m.touched = m.touched || m.page == PageWizard
	}
	_, cmd := m.active().Update(msg)
	return cmd
}

// working counts the jobs that are moving (not resting for the
// operator, failed or over).
func working(jobs []workflow.JobView) int {
	n := 0
	for _, j := range jobs {
		if j.State.Moving() {
			n++
		}
	}
	return n
}

// quit ends the program, but when jobs run in this very process it
// first says that quitting stops them and waits for a second q.
func (m *Model) quit() tea.Cmd {
	n := working(m.monitor.Jobs())
	if !m.quitStops || n == 0 || m.quitArmed {
		return tea.Quit
	}
	m.quitArmed = true
	m.status = common.StatusMsg{Err: true, Text: fmt.Sprintf(
		"%d job(s) run in this console: quitting stops them (they resume from their journals at the next start). Press q again to quit, any other key to stay.", n)}
	return nil
}

// helpKeys is the help line's keymap: the page's keys, then ? and q.
type helpKeys struct {
	page common.Component
	km   *keys.KeyMap
}

func (h helpKeys) ShortHelp() []key.Binding {
	return append(h.page.ShortHelp(), h.km.Help, h.km.Quit)
}

func (h helpKeys) FullHelp() [][]key.Binding {
	return append(h.page.FullHelp(), []key.Binding{h.km.Help, h.km.Quit})
}

func (m *Model) helpView() string {
	m.help.Width = m.w
	return m.help.View(helpKeys{page: m.active(), km: m.c.Keys})
}

// statusView is the status line: a long message wraps onto a second
// line rather than losing its end (which says what to do).
func (m *Model) statusView() string {
	st := m.c.Styles
	if m.status.Text == "" {
		return ""
	}
	style := st.Info
	if m.status.Err {
		style = st.Error
	}
	lines := common.WrapCell(m.status.Text, m.w)
	if len(lines) > 2 {
		lines = lines[:2]
		lines[1] = common.Pad(lines[1], m.w-1) + "…"
	}
	return common.StyleLines(style, strings.Join(lines, "\n"))
}

// bodyHeight is what header, status and help leave for the page.
func (m *Model) bodyHeight(helpV, status string) int {
	hh := strings.Count(helpV, "\n") + 1
	sh := strings.Count(status, "\n") + 1
	return max(m.h-1-sh-hh, 1)
}

// layout gives the page what header, status and help leave.
func (m *Model) layout() {
	m.active().SetSize(m.w, m.bodyHeight(m.helpView(), m.statusView()))
}

// View implements tea.Model.
func (m *Model) View() string {
	helpV, status := m.helpView(), m.statusView()
	body := common.Fill(m.active().View(), m.w, m.bodyHeight(helpV, status))
	out := m.header() + "\n" + body + "\n" + status + "\n" + helpV
	return common.Fill(out, m.w, m.h)
}

// header names the program, who is at the keyboard and the job counts.
func (m *Model) header() string {
	st := m.c.Styles
	left := st.Header.Render("failback") + st.HeaderDim.Render(fmt.Sprintf("  %s (%s via %s)", m.c.Who.Name, m.c.Who.Role, m.c.Who.Via))
	running, waiting := 0, 0
	for _, j := range m.monitor.Jobs() {
		// Of the resting jobs, those over or committed wait for nobody.
		switch {
		case j.State.Moving():
			running++
		case j.State == workflow.StateReady, j.State == workflow.StatePendingCommit, j.State.Stopped():
			waiting++
		}
	}
	right := st.HeaderDim.Render("no jobs yet")
	if n := len(m.monitor.Jobs()); n > 0 {
		right = st.HeaderDim.Render(fmt.Sprintf("%d job(s): %d running, %d waiting for you", n, running, waiting))
	}
	gap := m.w - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return common.Clamp(left, m.w, 1)
	}
	return left + strings.Repeat(" ", gap) + right
}

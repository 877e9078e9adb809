// Package wizard is the guided failback: plan, direction, location, sync
// option, encryption certificate, pre-flight, summary, start. Each step
// is a small component; the wizard moves between them, routes the
// service's tagged answers to them, and owns the shared choices. Nothing
// is started before the summary's last confirmation.
package wizard

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// step is one screen of the wizard.
type step interface {
	common.Component
	// name is the step's short name in the breadcrumb.
	name() string
	// enter is called each time the step becomes current.
	enter() tea.Cmd
	// leave is called when the operator goes back from it; it drops the
	// step's outstanding request.
	leave()
	// skipped says the step does not apply to the current choices.
	skipped() bool
	// busy says the step is waiting for the service.
	busy() bool
}

// Model is the wizard page.
type Model struct {
	s       *state
	steps   []step
	cur     int
	w, h    int
	polling bool // a re-read of the plans is scheduled
}

// PlansPoll is how often the plans are read again while a disk size is
// still being read (the service fills sizes in the background).
const PlansPoll = 500 * time.Millisecond

type (
	plansDueMsg struct{}
	plansMsg    struct{ plans []workflow.PlanInfo }
)

// pollPlans schedules a re-read of the plans while some size is still
// being read. The read runs off the UI goroutine: over the control
// socket it is a network call.
func (m *Model) pollPlans() tea.Cmd {
	if m.polling || !sizesPending(m.s.plans) {
		return nil
	}
	m.polling = true
	return tea.Tick(PlansPoll, func(time.Time) tea.Msg { return plansDueMsg{} })
}

var _ common.Component = (*Model)(nil)

// New returns a wizard at its first step. It reads the plans and sites
// once: they are configuration, not live state.
func New(c *common.Common) *Model {
	s := &state{
		c:     c,
		spin:  spinner.New(spinner.WithSpinner(spinner.Line), spinner.WithStyle(c.Styles.Info)),
		plans: c.Svc.Plans(),
		sites: c.Svc.Sites(),
	}
	m := &Model{s: s}
	m.steps = []step{
		newPlanStep(s), newDirectionStep(s), newLocationStep(s), newSyncStep(s),
		newCertStep(s), newPreflightStep(s), newSummaryStep(s),
	}
	return m
}

// Step names the current step (for tests and the header).
func (m *Model) Step() string { return m.steps[m.cur].name() }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.steps[m.cur].enter(), m.pollPlans()) }

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	for _, st := range m.steps {
		st.SetSize(w, max(h-2, 1))
	}
}

func (m *Model) busy() bool {
	for _, st := range m.steps {
		if st.busy() {
			return true
		}
	}
	return false
}

// move goes delta steps on (or back), passing over steps that do not apply.
func (m *Model) move(delta int) tea.Cmd {
	i := m.cur + delta
	for i > 0 && i < len(m.steps)-1 && m.steps[i].skipped() {
		i += delta
	}
	if i < 0 || i >= len(m.steps) {
		return nil
	}
	m.cur = i
	return tea.Batch(m.steps[i].enter(), m.s.spin.Tick)
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case navMsg:
		return m, m.move(msg.delta)
	case plansDueMsg:
		svc := m.s.c.Svc
		return m, func() tea.Msg { return plansMsg{plans: svc.Plans()} }
	case plansMsg:
		m.polling = false
		if len(msg.plans) > 0 { // an empty answer is a failed call, not a new config
			m.s.plans = msg.plans
		}
		return m, m.pollPlans()
	case spinner.TickMsg:
		if !m.busy() {
			return m, nil // let the spinner stop while nothing is awaited
		}
		var cmd tea.Cmd
		m.s.spin, cmd = m.s.spin.Update(msg)
		return m, cmd
	case tea.KeyMsg:
		if key.Matches(msg, m.s.c.Keys.Wizard.Back) {
			m.steps[m.cur].leave()
			if m.cur == 0 {
				return m, common.Send(common.ShowMonitorMsg{})
			}
			return m, m.move(-1)
		}
		_, cmd := m.steps[m.cur].Update(msg)
		return m, cmd
	}
	// Answers from the service: every step sees them and keeps only the
	// one it is waiting for (by request id).
	var cmds []tea.Cmd
	for _, st := range m.steps {
		_, cmd := st.Update(msg)
		cmds = append(cmds, cmd)
	}
	return m, tea.Batch(cmds...)
}

// View implements tea.Model.
func (m *Model) View() string {
	st := m.s.c.Styles
	var crumbs []string
	for i, s := range m.steps {
		switch {
		case i == m.cur:
			crumbs = append(crumbs, st.CrumbNow.Render("["+s.name()+"]"))
		case s.skipped():
			crumbs = append(crumbs, st.Crumb.Render("("+s.name()+")"))
		default:
			crumbs = append(crumbs, st.Crumb.Render(s.name()))
		}
	}
	head := common.Clamp(strings.Join(crumbs, st.Crumb.Render(" > ")), m.w, 1)
	body := common.Clamp(m.steps[m.cur].View(), m.w, max(m.h-2, 1))
	return head + "\n\n" + body
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	return append(m.steps[m.cur].ShortHelp(), m.s.c.Keys.Wizard.Back)
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	return append(m.steps[m.cur].FullHelp(), []key.Binding{m.s.c.Keys.Wizard.Back})
}

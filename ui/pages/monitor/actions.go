package monitor

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/ui/components/actionbar"
	"github.com/failback/failback/ui/components/confirm"
	"github.com/failback/failback/workflow"
)

// actTag is what a confirmation dialog confirms.
type actTag struct {
	job    string
	action workflow.Action
}

// actDoneMsg is the service's answer to Act, tagged with job and action.
type actDoneMsg struct {
	job    string
	action workflow.Action
	err    error
}

// press handles an action key: a viewer or a disabled action is told
// why; an enabled one opens the confirmation with the service's text.
// A press the last snapshot disables is asked again on a fresh snapshot
// first: the action list of a job at rest is not refreshed by the job,
// and what the key may do (its role in the authorized-keys file) or what
// the job allows may have changed since.
func (m *Model) press(a workflow.Action) tea.Cmd {
	if j, ok := m.jobs.Selected(); ok && m.c.CanAct() && !m.actions.State(a).Enabled {
		m.recheck = &actTag{job: j.ID, action: a}
		return m.Refresh()
	}
	return m.pressNow(a)
}

// pressNow is press on the snapshot the console holds.
func (m *Model) pressNow(a workflow.Action) tea.Cmd {
	j, ok := m.jobs.Selected()
	label := actionbar.Label(a)
	switch {
	case !ok:
		return common.Status(label+": no job selected.", true)
	case !m.c.CanAct():
		return common.Status(label+": "+workflow.ErrNotAllowed.Error()+".", true)
	}
	st := m.actions.State(a)
	if !st.Enabled {
		return common.Status(fmt.Sprintf("%s is not possible now: %s.", label, m.actions.Why(a)), true)
	}
	body := st.Confirm
	if body == "" {
		body = fmt.Sprintf("%s job %s (%s).", label, j.ID, j.Title)
	}
	m.dialog = confirm.New(m.c, fmt.Sprintf("%s? Job %s, %s", label, j.ID, j.Title), body, actionbar.Button(a), actTag{job: j.ID, action: a})
	m.dialog.SetSize(m.w, m.h)
	return nil
}

// checkDialog keeps an open confirmation true: it takes the service's
// newer text of what the action will do (Undo's measure of what it
// discards arrives after the dialog opened), and closes the dialog when
// the action no longer applies (the job moved on while the operator read).
func (m *Model) checkDialog() tea.Cmd {
	if m.dialog == nil {
		return nil
	}
	t, _ := m.dialog.Tag().(actTag)
	if t.job != m.jobs.SelectedID() {
		return nil
	}
	if st := m.actions.State(t.action); st.Enabled {
		if st.Confirm != "" {
			m.dialog.SetBody(st.Confirm)
		}
		return nil
	}
	m.dialog = nil
	return common.Status(fmt.Sprintf("%s is no longer possible: %s.", actionbar.Label(t.action), m.actions.Why(t.action)), true)
}

// act asks the service. It runs under the work context: an accepted
// action must not be abandoned because a session went away. "asking…"
// is shown before the service is asked, never after its answer (a
// batch may deliver a quick answer first, and the answer is lost).
func (m *Model) act(t actTag) tea.Cmd {
	svc, who, ctx := m.c.Svc, m.c.Who, m.c.WorkCtx
	return tea.Sequence(
		common.Status(actionbar.Label(t.action)+": asking…", false),
		func() tea.Msg {
			return actDoneMsg{job: t.job, action: t.action, err: svc.Act(ctx, t.job, t.action, who)}
		})
}

func (m *Model) actDone(d actDoneMsg) tea.Cmd {
	label := actionbar.Label(d.action)
	if d.err != nil {
		return common.Status(fmt.Sprintf("%s refused for %s: %v", label, d.job, d.err), true)
	}
	return common.Status(fmt.Sprintf("%s accepted for %s.", label, d.job), false)
}

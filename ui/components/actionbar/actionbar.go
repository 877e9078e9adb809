// Package actionbar shows the actions that apply to the selected job now
// and knows, for those that do not, why. Its key bindings carry the
// reason in their help text, so the full help (?) explains every
// disabled action.
package actionbar

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// order is the order the bar and the help list actions in. It differs
// on purpose from workflow.ActionOrder, the order the service reports
// them in: on screen the operator reads the steps forward first (Resume
// among them, since it continues a stopped step) and the ones that go
// back, Cancel and Undo, last.
var order = []workflow.Action{
	workflow.ActComplete, workflow.ActCommit, workflow.ActResume, workflow.ActReverse,
	workflow.ActReverseOnce, workflow.ActStopReverse, workflow.ActCancel, workflow.ActUndo, workflow.ActUndoRemove, workflow.ActEndTest,
}

// Label is an action's name as the operator reads it.
func Label(a workflow.Action) string {
	switch a {
	case workflow.ActComplete:
		return "Complete failover"
	case workflow.ActCommit:
		return "Commit"
	case workflow.ActReverse:
		return "Reverse replicate"
	case workflow.ActCancel:
		return "Cancel"
	case workflow.ActUndo:
		return "Undo"
	case workflow.ActResume:
		return "Resume"
	case workflow.ActReverseOnce:
		return "Reverse once"
	case workflow.ActStopReverse:
		return "Stop reverse"
	case workflow.ActUndoRemove:
		return "Undo and remove created VMs"
	case workflow.ActEndTest:
		return "End test"
	}
	return string(a)
}

// Button is the confirmation's yes button for a: it says what happens
// ("Cancel" next to "No" would read as a way out).
func Button(a workflow.Action) string {
	switch a {
	case workflow.ActCancel:
		return "Cancel the job"
	case workflow.ActUndo:
		return "Undo the failback"
	case workflow.ActUndoRemove:
		return "Undo, remove the VMs"
	case workflow.ActReverse:
		return "Start reverse replication"
	case workflow.ActStopReverse:
		return "Stop reverse replication"
	case workflow.ActEndTest:
		return "End the test"
	}
	return Label(a)
}

// Model is the action bar of the selected job.
type Model struct {
	c        *common.Common
	states   map[workflow.Action]workflow.ActionState
	known    bool
	expanded bool
	w, h     int
}

var _ common.Component = (*Model)(nil)

// New returns a bar that knows no actions yet.
func New(c *common.Common) *Model { return &Model{c: c} }

// SetStates replaces the action states (from Service.Actions); nil means
// no job is selected.
func (m *Model) SetStates(states []workflow.ActionState) {
	m.states = map[workflow.Action]workflow.ActionState{}
	for _, s := range states {
		m.states[s.Action] = s
	}
	m.known = states != nil
}

// State is what the service said about action a. An action the service
// did not list is disabled.
func (m *Model) State(a workflow.Action) workflow.ActionState {
	if s, ok := m.states[a]; ok {
		return s
	}
	why := "no job selected"
	if m.known {
		why = "does not apply to this job"
	}
	return workflow.ActionState{Action: a, Why: why}
}

// hidden says the service says a never applies to this job.
func (m *Model) hidden(a workflow.Action) bool { return m.states[a].Hidden }

// enabled says whether this program may do a now.
func (m *Model) enabled(a workflow.Action) bool { return m.c.CanAct() && m.State(a).Enabled }

// Why says why a is not possible now ("" when it is).
func (m *Model) Why(a workflow.Action) string {
	switch {
	case !m.c.CanAct():
		return workflow.ErrNotAllowed.Error()
	case m.State(a).Enabled:
		return ""
	case m.State(a).Why != "":
		return m.State(a).Why
	}
	return "not possible now"
}

func (m *Model) rawBinding(a workflow.Action) key.Binding {
	km := m.c.Keys
	switch a {
	case workflow.ActComplete:
		return km.Monitor.Complete
	case workflow.ActCommit:
		return km.Monitor.Commit
	case workflow.ActReverse:
		return km.Monitor.Reverse
	case workflow.ActCancel:
		return km.Monitor.Cancel
	case workflow.ActUndo:
		return km.Monitor.Undo
	case workflow.ActResume:
		return km.Monitor.Resume
	case workflow.ActReverseOnce:
		return km.Monitor.ReverseOnce
	case workflow.ActStopReverse:
		return km.Monitor.StopReverse
	case workflow.ActUndoRemove:
		return km.Monitor.UndoRemove
	case workflow.ActEndTest:
		return km.Monitor.EndTest
	}
	return key.Binding{}
}

// Binding is a's key with help that says, when disabled, why. It stays
// enabled for matching so that pressing it can explain the refusal.
func (m *Model) Binding(a workflow.Action) key.Binding {
	b := m.rawBinding(a)
	desc := Label(a)
	if why := m.Why(a); why != "" {
		desc += ": disabled, " + why
	}
	b.SetHelp(b.Help().Key, desc)
	return b
}

// Match returns the action a key press asks for.
func (m *Model) Match(k tea.KeyMsg) (workflow.Action, bool) {
	for _, a := range order {
		if key.Matches(k, m.rawBinding(a)) {
			return a, true
		}
	}
	return "", false
}

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model; the monitor handles action keys itself.
func (m *Model) Update(tea.Msg) (tea.Model, tea.Cmd) { return m, nil }

// SetExpanded switches between the one-line bar and the list of every
// action with what it does or why it is not possible (the ? key).
func (m *Model) SetExpanded(on bool) { m.expanded = on }

// Height is the number of lines View takes.
func (m *Model) Height() int { return strings.Count(m.View(), "\n") + 1 }

// View implements tea.Model: one line, enabled actions first, the keys
// of the others with a pointer to why; expanded, one entry per action.
func (m *Model) View() string {
	st := m.c.Styles
	if !m.known {
		return ""
	}
	if !m.c.CanAct() {
		return st.Subtle.Render("Actions: none (" + workflow.ErrNotAllowed.Error() + ")")
	}
	if m.expanded {
		return m.list()
	}
	var on, off []string
	for _, a := range order {
		if m.hidden(a) {
			continue
		}
		k := m.rawBinding(a).Help().Key
		if m.enabled(a) {
			on = append(on, "["+k+"] "+Label(a))
		} else {
			off = append(off, k)
		}
	}
	line := "Actions: "
	if len(on) == 0 {
		line += "none now"
	} else {
		line += strings.Join(on, "  ")
	}
	rest := ""
	if len(off) > 0 {
		// The keys of the others if they fit, else only where to look.
		for _, r := range []string{"   not now: " + strings.Join(off, " ") + " (? why)", "   (? others)"} {
			if ansi.StringWidth(line+r) <= m.w {
				rest = r
				break
			}
		}
	}
	return common.Clamp(st.ActionOn.Render(line)+st.ActionOff.Render(rest), m.w, 1)
}

// list is the expanded view: every action, its key, and what it would
// do now or why it cannot.
func (m *Model) list() string {
	st := m.c.Styles
	out := []string{st.Title.Render("Actions") + st.Subtle.Render("  (? closes)")}
	for _, a := range order {
		if m.hidden(a) {
			continue
		}
		lead := fmt.Sprintf("  [%s] %s", m.rawBinding(a).Help().Key, common.Pad(Label(a), 18))
		text := "possible now"
		if why := m.Why(a); why != "" {
			text = "not now: " + why
		}
		for i, l := range common.Hang(lead+" ", text, ansi.StringWidth(lead)+1, m.w) {
			if m.enabled(a) && i == 0 {
				l = st.ActionOn.Render(l)
			} else if !m.enabled(a) {
				l = st.ActionOff.Render(l)
			}
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// ShortHelp implements help.KeyMap: the actions possible now.
func (m *Model) ShortHelp() []key.Binding {
	var out []key.Binding
	for _, a := range order {
		if m.enabled(a) {
			out = append(out, m.Binding(a))
		}
	}
	return out
}

// FullHelp implements help.KeyMap: every action, disabled ones with why.
func (m *Model) FullHelp() [][]key.Binding {
	col := make([]key.Binding, 0, len(order))
	for _, a := range order {
		if !m.hidden(a) {
			col = append(col, m.Binding(a))
		}
	}
	return [][]key.Binding{col}
}

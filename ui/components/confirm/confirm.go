// Package confirm is a yes/no dialog. It answers with a DoneMsg carrying
// the tag it was opened with, so the page that opened it can tell what
// was confirmed even if the screen changed in between.
package confirm

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/failback/failback/ui/common"
)

// DoneMsg is the answer: OK is true only for an explicit yes.
type DoneMsg struct {
	Tag any
	OK  bool
}

// Model is the dialog.
type Model struct {
	c      *common.Common
	tag    any
	title  string
	body   string
	yesTxt string
	yes    bool // focus on the yes button; starts on no
	w, h   int
}

var _ common.Component = (*Model)(nil)

// New opens a dialog; yes labels the button that does it ("Complete
// failover"). Focus starts on No, so a stray enter does nothing harmful.
func New(c *common.Common, title, body, yes string, tag any) *Model {
	return &Model{c: c, tag: tag, title: title, body: body, yesTxt: yes}
}

// SetBody replaces the text (the service refined what the action will
// do while the dialog was open, e.g. a measurement finished).
func (m *Model) SetBody(body string) { m.body = body }

// Body is the text shown.
func (m *Model) Body() string { return m.body }

// Tag is what the dialog confirms.
func (m *Model) Tag() any { return m.tag }

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

func (m *Model) done(ok bool) tea.Cmd { return common.Send(DoneMsg{Tag: m.tag, OK: ok}) }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	km := m.c.Keys
	switch {
	case key.Matches(k, km.Dialog.Yes):
		return m, m.done(true)
	case key.Matches(k, km.Dialog.No):
		return m, m.done(false)
	case key.Matches(k, km.Dialog.Left), key.Matches(k, km.Dialog.Right):
		m.yes = !m.yes
	case key.Matches(k, km.Dialog.Press):
		return m, m.done(m.yes)
	}
	return m, nil
}

// View implements tea.Model: a box centred in the dialog's area.
func (m *Model) View() string {
	st := m.c.Styles
	inner := m.w - 4
	if inner > 60 {
		inner = 60
	}
	if inner < 20 {
		inner = 20
	}
	yes, no := st.Button, st.ButtonNow
	yesMark, noMark := "  ", "> "
	if m.yes {
		yes, no = st.ButtonNow, st.Button
		yesMark, noMark = "> ", "  "
	}
	buttons := yes.Render(yesMark+"[y] "+m.yesTxt) + "    " + no.Render(noMark+"[n] No, do nothing")
	content := lipgloss.JoinVertical(lipgloss.Left,
		st.Title.Render(m.title),
		"",
		common.Wrap(m.body, inner-2),
		"",
		buttons,
	)
	box := st.Dialog.Width(inner).Render(content)
	return st.Renderer.Place(m.w, m.h, lipgloss.Center, lipgloss.Center, box)
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	km := m.c.Keys
	return []key.Binding{km.Dialog.Yes, km.Dialog.No, km.Dialog.Right}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

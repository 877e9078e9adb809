package wizard

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// directionStep shows source and target side by side and makes the
// operator confirm, with a key of its own, that data flows from Azure to
// on-premises.
type directionStep struct {
	s    *state
	w, h int
}

func newDirectionStep(s *state) *directionStep { return &directionStep{s: s} }

func (d *directionStep) name() string     { return "Direction" }
func (d *directionStep) skipped() bool    { return false }
func (d *directionStep) busy() bool       { return false }
func (d *directionStep) leave()           {}
func (d *directionStep) enter() tea.Cmd   { return nil }
func (d *directionStep) SetSize(w, h int) { d.w, d.h = w, h }
func (d *directionStep) Init() tea.Cmd    { return nil }

func (d *directionStep) confirmed() bool {
	return d.s.choices.Direction == workflow.DirAzureToOnPrem
}

func (d *directionStep) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return d, nil
	}
	switch {
	case key.Matches(k, d.s.c.Keys.Wizard.ConfirmD):
		d.s.choices.Direction = workflow.DirAzureToOnPrem
		return d, nav(+1)
	case key.Matches(k, d.s.c.Keys.Wizard.Next):
		if !d.confirmed() {
			return d, common.Status("Press y to confirm that the data goes from Azure to on-premises.", true)
		}
		return d, nav(+1)
	}
	return d, nil
}

// target picks the on-premises site that holds the plan's hosts.
func (d *directionStep) target() workflow.SiteSide {
	ts := d.s.sites.Target
	if len(ts) == 0 {
		return workflow.SiteSide{Name: "(no on-premises site configured)", Kind: "hyper-v"}
	}
	if p, ok := d.s.plan(); ok {
		for _, t := range ts {
			for _, h := range t.Hosts {
				for _, g := range p.Groups {
					for _, v := range g {
						if v.Host == h {
							return t
						}
					}
				}
			}
		}
	}
	return ts[0]
}

func (d *directionStep) side(title string, s workflow.SiteSide, w, h int) string {
	st := d.s.c.Styles
	lines := []string{st.BoxTitle.Render(title), s.Name, st.Subtle.Render(s.Kind)}
	if s.Detail != "" {
		lines = append(lines, common.Wrap(s.Detail, w-4))
	}
	for _, h := range s.Hosts {
		lines = append(lines, "  "+h)
	}
	return st.Box.Width(w - 2).Height(h).Render(strings.Join(lines, "\n"))
}

func (d *directionStep) View() string {
	st := d.s.c.Styles
	arrow := " ──> "
	bw := max((d.w-lipgloss.Width(arrow))/2, 20)
	src := d.side("FROM (source)", d.s.sites.Source, bw, 0)
	dst := d.side("TO (target)", d.target(), bw, 0)
	// Same height for both boxes, so they line up side by side.
	inner := max(lipgloss.Height(src), lipgloss.Height(dst)) - 2
	src = d.side("FROM (source)", d.s.sites.Source, bw, inner)
	dst = d.side("TO (target)", d.target(), bw, inner)
	boxes := lipgloss.JoinHorizontal(lipgloss.Center, src, arrow, dst)
	var conf string
	if d.confirmed() {
		conf = st.OK.Render("✓ Direction confirmed: Azure -> on-premises.") + " enter: next"
	} else {
		conf = st.Warn.Render("Failback copies data from Azure to on-premises and starts the VMs there.") +
			"\nPress y to confirm this direction."
	}
	return st.Title.Render("Direction of the failback") + "\n" + boxes + "\n" + conf
}

func (d *directionStep) ShortHelp() []key.Binding {
	km := d.s.c.Keys
	if d.confirmed() {
		return []key.Binding{km.Wizard.Next}
	}
	return []key.Binding{km.Wizard.ConfirmD}
}

func (d *directionStep) FullHelp() [][]key.Binding {
	return [][]key.Binding{{d.s.c.Keys.Wizard.ConfirmD, d.s.c.Keys.Wizard.Next}}
}

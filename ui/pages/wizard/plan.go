package wizard

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// planStep picks a recovery plan or a single VM.
type planStep struct {
	s      *state
	cursor int
	w, h   int
}

func newPlanStep(s *state) *planStep { return &planStep{s: s} }

func (p *planStep) name() string     { return "Plan" }
func (p *planStep) skipped() bool    { return false }
func (p *planStep) busy() bool       { return false }
func (p *planStep) leave()           {}
func (p *planStep) SetSize(w, h int) { p.w, p.h = w, h }
func (p *planStep) Init() tea.Cmd    { return nil }

// enter puts the cursor back on the plan chosen before, if any.
func (p *planStep) enter() tea.Cmd {
	for i, pl := range p.s.plans {
		if (pl.Single && pl.Name == p.s.choices.VM) || (!pl.Single && pl.Name == p.s.choices.Plan) {
			p.cursor = i
		}
	}
	return nil
}

func (p *planStep) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok || len(p.s.plans) == 0 {
		return p, nil
	}
	km := p.s.c.Keys
	switch {
	case key.Matches(k, km.Up):
		p.cursor = max(p.cursor-1, 0)
	case key.Matches(k, km.Down):
		p.cursor = min(p.cursor+1, len(p.s.plans)-1)
	case key.Matches(k, km.Wizard.Next):
		p.choose(p.s.plans[p.cursor])
		return p, nav(+1)
	}
	return p, nil
}

// choose records the plan; a different plan invalidates what later
// steps learnt about the previous one (but keeps sync and location).
func (p *planStep) choose(pl workflow.PlanInfo) {
	before := p.s.planKey()
	p.s.choices.Plan, p.s.choices.VM = pl.Name, ""
	if pl.Single {
		p.s.choices.Plan, p.s.choices.VM = "", pl.Name
	}
	if p.s.planKey() != before {
		p.s.choices.CertThumbprint, p.s.choices.AllowExpiredCert = "", false
		p.s.cert, p.s.est, p.s.pre, p.s.locRep = nil, nil, nil, nil
		p.s.certFor, p.s.noCerts = "", false
	}
}

func (p *planStep) View() string {
	st := p.s.c.Styles
	if len(p.s.plans) == 0 {
		return st.Error.Render("No recovery plan or VM is configured.") + "\n" +
			"Add plans and VMs to config.toml, then start failback again."
	}
	listW := 0
	for _, pl := range p.s.plans {
		listW = max(listW, lipgloss.Width(pl.Name)+10)
	}
	listW = min(listW, p.w/3)
	var list []string
	for i, pl := range p.s.plans {
		kind := "plan"
		if pl.Single {
			kind = "VM"
		}
		line := common.Pad(fmt.Sprintf("%s (%s)", pl.Name, kind), listW-2)
		if i == p.cursor {
			list = append(list, st.Selected.Render("> "+line))
		} else {
			list = append(list, "  "+line)
		}
	}
	// Keep the cursor in view when there are more plans than lines.
	rows := max(p.h-1, 1)
	offset := max(p.cursor-rows+2, 0)
	list, _ = common.Window(list, offset, rows, "↑/↓", st.Subtle.Render)
	list = append([]string{st.Title.Render("Fail back what?")}, list...)
	rw := p.w - listW - 2
	left := common.Clamp(strings.Join(list, "\n"), listW, p.h)
	right := common.Clamp(p.details(p.s.plans[p.cursor], rw), rw, p.h)
	return lipgloss.JoinHorizontal(lipgloss.Top, left, "  ", right)
}

// details lists a plan's groups, VMs and disks with sizes, in w columns.
// A disk whose size could not be read says why.
func (p *planStep) details(pl workflow.PlanInfo, w int) string {
	st := p.s.c.Styles
	var b []string
	head := pl.Name
	if pl.Description != "" {
		head += ": " + pl.Description
	}
	b = append(b, common.StyleLines(st.Title, common.Wrap(head, w)))
	b = append(b, common.StyleLines(st.Subtle, common.Wrap(vmCount(pl).text(len(pl.Groups)), w)))
	blobW := 0
	for _, g := range pl.Groups {
		for _, v := range g {
			for _, d := range v.Disks {
				blobW = max(blobW, ansi.StringWidth(d.Label()))
			}
		}
	}
	blobW = min(blobW, max(w/2, 12))
	for gi, g := range pl.Groups {
		if len(pl.Groups) > 1 || !pl.Single {
			b = append(b, fmt.Sprintf("Group %d", gi+1))
		}
		for _, v := range g {
			b = append(b, common.JoinWrap([]string{fmt.Sprintf("  %s  %s  gen %d", v.Name, v.Host, v.Generation),
				fmt.Sprintf("%d CPU", v.CPUs), units.Bytes(v.Memory), "switch " + v.Switch}, ", ", w, "      ")...)
			for _, d := range v.Disks {
				lead := "    " + common.Pad(d.Label(), blobW) + "  "
				switch {
				case d.SizeError != "":
					for _, l := range common.Hang(lead, "size unknown: "+d.SizeError, len(lead), w) {
						b = append(b, st.Warn.Render(l))
					}
				case d.Size > 0 && d.SKU != "":
					b = append(b, lead+units.Bytes(d.Size)+"  "+st.Subtle.Render(d.SKU))
				case d.Size > 0:
					b = append(b, lead+units.Bytes(d.Size))
				default:
					b = append(b, lead+st.Subtle.Render("reading size…"))
				}
			}
		}
	}
	return strings.Join(b, "\n")
}

func (p *planStep) ShortHelp() []key.Binding {
	km := p.s.c.Keys
	next := km.Wizard.Next
	next.SetHelp("enter", "choose")
	return []key.Binding{km.Up, km.Down, next}
}

func (p *planStep) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

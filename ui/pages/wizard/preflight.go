package wizard

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/ui/components/checklist"
	"github.com/failback/failback/workflow"
)

// preflightStep runs every check before any byte moves and shows every
// row; the wizard cannot go on while one fails.
type preflightStep struct {
	s    *state
	req  request
	rep  *workflow.PreflightReport
	err  error
	list *checklist.Model
	w, h int
}

func newPreflightStep(s *state) *preflightStep {
	return &preflightStep{s: s, list: checklist.New(s.c)}
}

func (p *preflightStep) name() string  { return "Pre-flight" }
func (p *preflightStep) skipped() bool { return false }
func (p *preflightStep) busy() bool    { return p.req.busy }
func (p *preflightStep) leave()        { p.req.stop() }
func (p *preflightStep) Init() tea.Cmd { return nil }

func (p *preflightStep) SetSize(w, h int) {
	p.w, p.h = w, h
	p.list.SetSize(w, max(h-4, 1))
}

// enter runs the checks afresh each time: the world may have changed.
func (p *preflightStep) enter() tea.Cmd {
	id, ctx := p.s.begin(&p.req)
	p.rep, p.err, p.s.pre = nil, nil, nil
	p.list.SetRows(nil)
	c, svc := p.s.choices, p.s.c.Svc
	return tea.Batch(p.s.spin.Tick, call(id, ctx, func(ctx context.Context) (workflow.PreflightReport, error) {
		return svc.Preflight(ctx, c)
	}))
}

func (p *preflightStep) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[workflow.PreflightReport]:
		if p.req.accept(msg.id) {
			p.err = msg.err
			if msg.err == nil {
				p.rep = &msg.val
				p.list.SetRows(msg.val.Checks)
			}
		}
	case tea.KeyMsg:
		km := p.s.c.Keys
		switch {
		case key.Matches(msg, km.Wizard.Retry):
			return p, p.enter()
		case key.Matches(msg, km.PageUp), key.Matches(msg, km.PageDown):
			return p.list.Update(msg)
		case key.Matches(msg, km.Wizard.Next):
			switch {
			case p.req.busy:
				return p, common.Status("The checks are still running.", true)
			case p.err != nil:
				return p, common.Status("The checks could not run: press r to try again.", true)
			case !p.ok():
				return p, common.Status(fmt.Sprintf("%d check(s) failed: fix them, then press r to run the checks again.", p.list.Failed()), true)
			}
			p.s.pre = p.rep
			return p, nav(+1)
		}
	}
	return p, nil
}

// ok is true only when the service says so and no row failed.
func (p *preflightStep) ok() bool { return p.rep != nil && p.rep.OK && p.list.Failed() == 0 }

func (p *preflightStep) View() string {
	st := p.s.c.Styles
	out := []string{st.Title.Render("Pre-flight checks") + st.Subtle.Render("  (nothing has been changed)")}
	switch {
	case p.req.busy:
		out = append(out, p.s.waiting("running every check for every VM…"))
	case p.err != nil:
		out = append(out, p.s.failed("run the pre-flight checks", p.err))
	case p.rep != nil:
		n, bad := len(p.rep.Checks), p.list.Failed()
		if p.ok() {
			out = append(out, st.OK.Render(fmt.Sprintf("All %d checks passed.", n))+" enter: summary")
		} else {
			out = append(out, st.Fail.Render(fmt.Sprintf("%d of %d checks failed.", bad, n))+" Fix them, then press r.")
		}
		out = append(out, "", p.list.View())
	}
	return strings.Join(out, "\n")
}

func (p *preflightStep) ShortHelp() []key.Binding {
	km := p.s.c.Keys
	b := []key.Binding{km.Wizard.Retry}
	b = append(b, p.list.ShortHelp()...)
	if p.ok() {
		b = append(b, km.Wizard.Next)
	}
	return b
}

func (p *preflightStep) FullHelp() [][]key.Binding {
	km := p.s.c.Keys
	return [][]key.Binding{{km.Wizard.Retry, km.PageUp, km.PageDown, km.Wizard.Next}}
}

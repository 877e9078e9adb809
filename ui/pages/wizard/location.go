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

// locationStep chooses the original location or an alternate host (with
// "create the VM if missing") and shows the service's check of it. Each
// change asks again; only the answer to the latest question counts.
type locationStep struct {
	s      *state
	alt    bool
	host   int
	create bool
	// discard accepts discarding Saved or Paused VMs' state; maps maps the
	// switches the alternate host lacks (see switches.go).
	discard bool
	maps    map[string]string
	req     request
	rep     *workflow.LocationReport
	err     error
	list    *checklist.Model
	w, h    int
}

func newLocationStep(s *state) *locationStep {
	return &locationStep{s: s, list: checklist.New(s.c)}
}

func (l *locationStep) name() string  { return "Location" }
func (l *locationStep) skipped() bool { return false }
func (l *locationStep) busy() bool    { return l.req.busy }
func (l *locationStep) leave()        { l.req.stop() }
func (l *locationStep) Init() tea.Cmd { return nil }

func (l *locationStep) SetSize(w, h int) {
	l.w, l.h = w, h
	l.layout()
}

// hosts lists every on-premises host an alternate location may use.
func (l *locationStep) hosts() []string {
	var hs []string
	for _, t := range l.s.sites.Target {
		hs = append(hs, t.Hosts...)
	}
	return hs
}

// enter restores the earlier choice and checks it.
func (l *locationStep) enter() tea.Cmd {
	c := l.s.choices
	l.alt, l.create, l.discard = c.Location == workflow.LocAlternate, c.CreateVM, c.DiscardSavedState
	l.maps = map[string]string{}
	for k, v := range c.SwitchMap {
		l.maps[k] = v
	}
	for i, h := range l.hosts() {
		if h == c.AltHost {
			l.host = i
		}
	}
	return l.check()
}

// current is the choice on screen.
func (l *locationStep) current() workflow.Choices {
	c := l.s.choices
	c.Location, c.AltHost, c.CreateVM = workflow.LocOriginal, "", false
	c.SwitchMap, c.DiscardSavedState = nil, l.discard
	if hs := l.hosts(); l.alt && len(hs) > 0 {
		c.Location, c.AltHost, c.CreateVM = workflow.LocAlternate, hs[l.host], l.create
		c.SwitchMap = l.switchMap()
	}
	return c
}

func (l *locationStep) check() tea.Cmd {
	id, ctx := l.s.begin(&l.req)
	l.rep, l.err = nil, nil
	l.list.SetRows(nil)
	c, svc := l.current(), l.s.c.Svc
	return tea.Batch(l.s.spin.Tick, call(id, ctx, func(ctx context.Context) (workflow.LocationReport, error) {
		return svc.CheckLocation(ctx, c)
	}))
}

func (l *locationStep) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[workflow.LocationReport]:
		if l.req.accept(msg.id) {
			l.err = msg.err
			if msg.err == nil {
				l.rep = &msg.val
				l.list.SetRows(msg.val.Checks)
			}
		}
		return l, nil
	case tea.KeyMsg:
		return l, l.key(msg)
	}
	return l, nil
}

func (l *locationStep) key(k tea.KeyMsg) tea.Cmd {
	km := l.s.c.Keys
	switch {
	case key.Matches(k, km.Wizard.Toggle):
		l.alt = !l.alt
		return l.check()
	case l.alt && key.Matches(k, km.Up):
		l.host = max(l.host-1, 0)
		return l.check()
	case l.alt && key.Matches(k, km.Down):
		l.host = min(l.host+1, max(len(l.hosts())-1, 0))
		return l.check()
	case l.alt && key.Matches(k, km.Wizard.CreateVM):
		l.create = !l.create
		return l.check()
	case l.alt && key.Matches(k, km.Wizard.MapSwitch) && l.rep != nil:
		if l.nextMapping() {
			return l.check()
		}
		return common.Status("No switch to map: the host has every switch the VMs use.", true)
	case key.Matches(k, km.Wizard.Discard) && (l.discard || l.rep != nil && len(l.rep.SavedVMs) > 0):
		l.discard = !l.discard
		return l.check()
	case key.Matches(k, km.Wizard.Retry):
		return l.check()
	case key.Matches(k, km.PageUp), key.Matches(k, km.PageDown):
		_, cmd := l.list.Update(k)
		return cmd
	case key.Matches(k, km.Wizard.Next):
		switch {
		case l.req.busy:
			return common.Status("Still checking the location; wait a moment.", true)
		case l.err != nil:
			return common.Status("The location could not be checked: press r to try again.", true)
		case l.rep == nil || !l.rep.OK:
			return common.Status("The location check failed: follow the fix lines, or choose another location.", true)
		}
		c := l.current()
		l.s.choices.Location, l.s.choices.AltHost, l.s.choices.CreateVM = c.Location, c.AltHost, c.CreateVM
		l.s.choices.SwitchMap, l.s.choices.DiscardSavedState = c.SwitchMap, c.DiscardSavedState
		l.s.locRep = l.rep
		return nav(+1)
	}
	return nil
}

func radio(on bool) string {
	if on {
		return "(•)"
	}
	return "( )"
}

func (l *locationStep) head() []string {
	st := l.s.c.Styles
	out := []string{
		st.Title.Render("Where should the VMs land?"),
		fmt.Sprintf("  %s Original location: the same hosts and disk files", radio(!l.alt)),
		fmt.Sprintf("  %s Alternate location: another Hyper-V host", radio(l.alt)),
	}
	if !l.alt {
		return append(out, l.choiceLines()...)
	}
	for i, h := range l.hosts() {
		if i == l.host {
			out = append(out, st.Selected.Render("      > "+h))
		} else {
			out = append(out, "        "+h)
		}
	}
	box := "[ ]"
	if l.create {
		box = "[x]"
	}
	out = append(out, fmt.Sprintf("      %s Create the on-premises VM if it does not exist", box))
	return append(out, l.choiceLines()...)
}

func (l *locationStep) layout() {
	l.list.SetSize(l.w, max(l.h-len(l.head())-3-strings.Count(l.verdict(), "\n"), 1))
}

// verdict sums the checks up above the list ("" until they are in).
func (l *locationStep) verdict() string {
	st := l.s.c.Styles
	if l.req.busy || l.err != nil || l.rep == nil {
		return ""
	}
	n, bad := len(l.rep.Checks), l.list.Failed()
	switch {
	case bad > 0:
		return common.StyleLines(st.Fail, common.Wrap(fmt.Sprintf("%d of %d checks failed (listed first): follow the fix lines, or choose another location.", bad, n), l.w))
	case l.rep.OK:
		return st.OK.Render(fmt.Sprintf("All %d checks passed.", n)) + " enter: next step"
	}
	return ""
}

func (l *locationStep) View() string {
	l.layout()
	st := l.s.c.Styles
	out := l.head()
	where := "the original hosts"
	if c := l.current(); c.Location == workflow.LocAlternate {
		where = c.AltHost
	}
	out = append(out, "", st.Title.Render("Checks on "+where))
	switch {
	case l.req.busy:
		out = append(out, l.s.waiting("checking "+where+"…"))
	case l.err != nil:
		out = append(out, l.s.failed("check "+where, l.err))
	case l.rep != nil:
		if v := l.verdict(); v != "" {
			out = append(out, v)
		}
		out = append(out, l.list.View())
	}
	return strings.Join(out, "\n")
}

// ShortHelp puts enter early: at 80 columns the help line's tail is cut.
func (l *locationStep) ShortHelp() []key.Binding {
	km := l.s.c.Keys
	b := []key.Binding{km.Wizard.Toggle}
	if l.alt {
		up := km.Up
		up.SetHelp("↑/↓", "host")
		create := km.Wizard.CreateVM
		create.SetHelp("space", "create VM")
		b = append(b, up, create)
		if l.rep != nil && (len(l.rep.MissingSwitches) > 0 || len(l.maps) > 0) {
			b = append(b, km.Wizard.MapSwitch)
		}
	}
	if l.discard || l.rep != nil && len(l.rep.SavedVMs) > 0 {
		b = append(b, km.Wizard.Discard)
	}
	return append(append(b, km.Wizard.Next), l.list.ShortHelp()...)
}

func (l *locationStep) FullHelp() [][]key.Binding {
	km := l.s.c.Keys
	return [][]key.Binding{{km.Wizard.Toggle, km.Up, km.Down, km.Wizard.CreateVM, km.Wizard.MapSwitch, km.Wizard.Discard}, {km.Wizard.Retry, km.PageUp, km.PageDown, km.Wizard.Next}}
}

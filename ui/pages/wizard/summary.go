package wizard

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// summaryStep shows every choice and starts the job on the operator's
// last confirmation. Start runs under the work context (the server's),
// never the session's: the job must outlive the terminal that started it.
type summaryStep struct {
	s    *state
	req  request
	err  error
	w, h int
}

func newSummaryStep(s *state) *summaryStep { return &summaryStep{s: s} }

func (u *summaryStep) name() string     { return "Summary" }
func (u *summaryStep) skipped() bool    { return false }
func (u *summaryStep) busy() bool       { return u.req.busy }
func (u *summaryStep) enter() tea.Cmd   { u.err = nil; return nil }
func (u *summaryStep) Init() tea.Cmd    { return nil }
func (u *summaryStep) SetSize(w, h int) { u.w, u.h = w, h }

// leave keeps a Start in flight: once asked, the job exists or not, and
// the answer must still reach the operator.
func (u *summaryStep) leave() {}

func (u *summaryStep) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[string]:
		if !u.req.accept(msg.id) {
			return u, nil
		}
		if msg.err != nil {
			u.err = msg.err
			return u, common.Status("Start refused: "+msg.err.Error(), true)
		}
		return u, tea.Batch(
			common.Send(common.ShowMonitorMsg{Select: msg.val}),
			common.Status(fmt.Sprintf("Started %s. Watch it here; it keeps running if you close the console.", msg.val), false))
	case tea.KeyMsg:
		if !key.Matches(msg, u.s.c.Keys.Wizard.Next) {
			return u, nil
		}
		switch {
		case !u.s.c.CanAct():
			return u, common.Status("Cannot start: "+workflow.ErrNotAllowed.Error()+".", true)
		case u.req.busy:
			return u, common.Status("Already starting; wait for the answer.", true)
		}
		return u, u.start()
	}
	return u, nil
}

func (u *summaryStep) start() tea.Cmd {
	id, _ := u.s.begin(&u.req)
	u.err = nil
	c, who, svc, work := u.s.choices, u.s.c.Who, u.s.c.Svc, u.s.c.WorkCtx
	return tea.Batch(u.s.spin.Tick, call(id, work, func(ctx context.Context) (string, error) {
		return svc.Start(ctx, c, who)
	}))
}

func (u *summaryStep) rows() [][2]string {
	s, c := u.s, u.s.choices
	what := "VM " + c.VM
	if c.Plan != "" {
		what = "plan " + c.Plan
	}
	if p, ok := s.plan(); ok {
		what += ": " + vmCount(p).text(len(p.Groups))
	}
	dir := fmt.Sprintf("%s -> on-premises (confirmed)", s.sites.Source.Name)
	loc := "original hosts and disk files"
	if c.Location == workflow.LocAlternate {
		loc = "alternate host " + c.AltHost
		if c.CreateVM {
			loc += ", create the VM if missing"
		}
		var maps []string
		for from, to := range c.SwitchMap {
			maps = append(maps, "switch "+from+" -> "+to)
		}
		sort.Strings(maps)
		if len(maps) > 0 {
			loc += "; " + strings.Join(maps, ", ") + " (your mapping)"
		}
	}
	syn := "delta: synchronize before failover"
	switch {
	case c.Test:
		syn = "TEST failback: the Azure VMs keep running; nothing on premises is overwritten"
	case c.Sync == workflow.SyncFull:
		syn = "full: synchronize during failover only"
	}
	if s.est != nil {
		syn += "\n" + figures(s.est, c.Sync, c.Test)
	}
	cert := "not needed (no encrypted disk)"
	if c.CertThumbprint != "" {
		cert = c.CertThumbprint
		if s.cert != nil {
			cert = s.cert.Subject + " " + c.CertThumbprint[:min(12, len(c.CertThumbprint))] + "…"
		}
		if c.AllowExpiredCert {
			cert += " (EXPIRED, override)"
		}
	}
	pre := "not run"
	if s.pre != nil {
		pre = fmt.Sprintf("%d checks passed", len(s.pre.Checks))
	}
	rows := [][2]string{{"What", what}, {"Direction", dir}, {"Location", loc}, {"Sync", syn}}
	if c.DiscardSavedState {
		rows = append(rows, [2]string{"Saved VMs", "turned off when the job starts: their memory state is DISCARDED (your choice)"})
	}
	switch {
	case c.Test:
		rows = append(rows, [2]string{"Test VMs", testSummary(s)}, [2]string{"Azure VMs", "keep running: a test never stops them, and never completes"})
	case s.sites.Stop != "":
		rows = append(rows, [2]string{"Azure VMs", "stopped at Complete failover by " + s.sites.Stop})
	}
	return append(rows, [2]string{"Certificate", cert}, [2]string{"Pre-flight", pre})
}

func (u *summaryStep) View() string {
	st := u.s.c.Styles
	out := []string{st.Title.Render("Summary") + st.Subtle.Render("  (nothing has moved yet)")}
	for _, r := range u.rows() {
		val := common.Wrap(r[1], max(u.w-15, 20))
		val = strings.ReplaceAll(val, "\n", "\n"+strings.Repeat(" ", 15))
		out = append(out, "  "+common.Pad(r[0], 12)+" "+val)
	}
	out = append(out, "")
	switch {
	case u.req.busy:
		out = append(out, u.s.waiting("starting the failback…"))
	case u.err != nil:
		out = append(out, st.Error.Render("Start refused: "+u.err.Error()), "Fix the cause, then press enter again, or esc to change the choices.")
	case !u.s.c.CanAct():
		out = append(out, st.Warn.Render("You are a viewer: "+workflow.ErrNotAllowed.Error()+"."))
	case u.s.choices.Test:
		out = append(out, common.Wrap("Press enter to start the test failback. Data starts moving only then, into test disks; esc goes back.", u.w))
	default:
		out = append(out, common.Wrap("Press enter to start the failback. Data starts moving only then; esc goes back.", u.w))
	}
	return strings.Join(out, "\n")
}

func (u *summaryStep) ShortHelp() []key.Binding {
	next := u.s.c.Keys.Wizard.Next
	next.SetHelp("enter", "START failback")
	if !u.s.c.CanAct() {
		next.SetHelp("enter", "start: disabled, "+workflow.ErrNotAllowed.Error())
	}
	return []key.Binding{next}
}

func (u *summaryStep) FullHelp() [][]key.Binding { return [][]key.Binding{u.ShortHelp()} }

// testSummary names the test VMs' place and the isolated switch, as the
// pre-flight found them.
func testSummary(s *state) string {
	var sws []string
	if s.pre != nil {
		for _, r := range s.pre.Checks {
			if name, ok := strings.CutPrefix(r.What, "test switch "); ok && r.OK {
				sws = append(sws, name+": "+r.Detail)
			}
		}
	}
	out := "NAME-test on each VM's own host, with its configuration and test disks; every adapter on an isolated switch"
	if len(sws) > 0 {
		out += ": " + strings.Join(sws, "; ")
	}
	return out
}

package wizard

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// syncStep chooses delta or full synchronisation, or a test failback,
// each explained in one line, with the service's estimate of data to move
// and downtime.
type syncStep struct {
	s      *state
	cursor int // 0 delta, 1 full, 2 test
	picked bool
	req    request
	est    *workflow.Estimate
	err    error
	w, h   int
}

var syncOptions = []struct {
	opt  workflow.SyncOption
	test bool
	name string
	line string
}{
	{workflow.SyncDelta, false, "Delta: synchronize before failover",
		"Only blocks whose checksums differ are copied, while Azure runs on."},
	{workflow.SyncFull, false, "Full: synchronize during failover only",
		"Shuts Azure down first, then downloads every disk whole."},
	{workflow.SyncDelta, true, "Test failback: the Azure VMs keep running; nothing on premises is overwritten",
		"Test disks and test VMs on an isolated switch; End test removes them."},
}

// testBlocked says why the test option cannot be taken now ("" when it can).
func (y *syncStep) testBlocked() string {
	if y.s.choices.Location == workflow.LocAlternate {
		return "a test runs where the VMs' disks are: go back (esc) and choose the original location"
	}
	return ""
}

func newSyncStep(s *state) *syncStep { return &syncStep{s: s} }

func (y *syncStep) name() string     { return "Sync" }
func (y *syncStep) skipped() bool    { return false }
func (y *syncStep) busy() bool       { return y.req.busy }
func (y *syncStep) leave()           { y.req.stop() }
func (y *syncStep) Init() tea.Cmd    { return nil }
func (y *syncStep) SetSize(w, h int) { y.w, y.h = w, h }

func (y *syncStep) enter() tea.Cmd {
	y.picked = y.s.choices.Sync != ""
	switch {
	case y.s.choices.Test:
		y.cursor = 2
	case y.s.choices.Sync == workflow.SyncFull:
		y.cursor = 1
	default:
		y.cursor = 0
	}
	return y.load()
}

func (y *syncStep) load() tea.Cmd {
	id, ctx := y.s.begin(&y.req)
	y.est, y.err = nil, nil
	c, svc := y.s.choices, y.s.c.Svc
	return tea.Batch(y.s.spin.Tick, call(id, ctx, func(ctx context.Context) (workflow.Estimate, error) {
		return svc.Estimate(ctx, c)
	}))
}

func (y *syncStep) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[workflow.Estimate]:
		if y.req.accept(msg.id) {
			y.err = msg.err
			if msg.err == nil {
				y.est = &msg.val
				// Until the operator picks, the cursor follows the advice.
				if !y.picked && msg.val.Recommended == workflow.SyncFull {
					y.cursor = 1
				}
			}
		}
	case tea.KeyMsg:
		km := y.s.c.Keys
		switch {
		case key.Matches(msg, km.Up):
			y.cursor, y.picked = max(y.cursor-1, 0), true
		case key.Matches(msg, km.Down):
			y.cursor, y.picked = min(y.cursor+1, len(syncOptions)-1), true
		case key.Matches(msg, km.Wizard.Retry):
			return y, y.load()
		case key.Matches(msg, km.Wizard.Next):
			o := syncOptions[y.cursor]
			if why := y.testBlocked(); o.test && why != "" {
				return y, common.Status("Test failback: "+why+".", true)
			}
			y.s.choices.Sync, y.s.choices.Test = o.opt, o.test
			y.s.est = y.est
			return y, nav(+1)
		}
	}
	return y, nil
}

// totals sums what each option would move; bound says some disk's
// changed figure is only an upper bound (no earlier snapshot to diff).
func totals(e *workflow.Estimate) (changed, allocated, size int64, bound bool) {
	for _, d := range e.Disks {
		changed += d.ChangedEstimate
		allocated += d.Allocated
		size += d.Size
		bound = bound || d.Bound
	}
	return changed, allocated, size, bound
}

// moves is a changed figure as the operator should read it.
func moves(n int64, bound bool) string {
	if bound {
		return "at most " + units.Bytes(n)
	}
	return "~" + units.Bytes(n)
}

// figures is one option's estimate line (under 70 columns, so it fits
// indented at 80).
func figures(e *workflow.Estimate, o workflow.SyncOption, test bool) string {
	changed, allocated, _, bound := totals(e)
	if test {
		return fmt.Sprintf("writes %s, no downtime", moves(changed, bound))
	}
	if o == workflow.SyncDelta {
		return fmt.Sprintf("checks %s, moves %s, downtime ~%s",
			units.Bytes(allocated), moves(changed, bound), common.Dur(e.DeltaDowntime))
	}
	return fmt.Sprintf("moves %s, downtime ~%s", units.Bytes(allocated), common.Dur(e.FullDowntime))
}

func (y *syncStep) View() string {
	st := y.s.c.Styles
	out := []string{st.Title.Render("How should the data be synchronised?")}
	for i, o := range syncOptions {
		lead := "  "
		if i == y.cursor {
			lead = st.Selected.Render("> ")
		}
		name := common.Hang(lead+radio(i == y.cursor)+" ", o.name, 6, y.w)
		if y.est != nil && y.est.Recommended == o.opt && !o.test {
			name[len(name)-1] += st.OK.Render("  (recommended)")
		}
		out = append(out, name...)
		switch why := y.testBlocked(); {
		case o.test && why != "":
			out = append(out, common.Wrap("      "+o.line, y.w), st.Warn.Render(common.Wrap("      not now: "+why, y.w)))
		case o.test && y.est != nil:
			// One line: the test's figures say what its description would.
			out = append(out, common.Wrap("      Test VMs on an isolated switch; "+figures(y.est, o.opt, o.test), y.w))
		case y.est != nil:
			out = append(out, common.Wrap("      "+o.line, y.w), st.Subtle.Render("      "+figures(y.est, o.opt, o.test)))
		default:
			out = append(out, common.Wrap("      "+o.line, y.w))
		}
	}
	out = append(out, "")
	switch {
	case y.req.busy:
		out = append(out, y.s.waiting("estimating data to move and downtime…"))
	case y.err != nil:
		out = append(out, y.s.failed("estimate the data to move", y.err))
	case y.est != nil:
		out = append(out, common.Wrap(fmt.Sprintf("Recommended: %s (%s)", y.est.Recommended, y.est.Why), y.w))
		out = append(out, y.table()...)
	}
	return strings.Join(out, "\n")
}

// table lists each disk's figures. Columns are as wide as what they
// hold; the basis of each changed figure goes in its column when it
// fits, else it becomes a numbered note under the table (wrapped),
// so it is never cut.
func (y *syncStep) table() []string {
	st := y.s.c.Styles
	diskW, vmW := len("DISK"), len("VM")
	for _, d := range y.est.Disks {
		diskW, vmW = max(diskW, ansi.StringWidth(d.Blob)), max(vmW, ansi.StringWidth(d.VM))
	}
	diskW = min(diskW, max(y.w/3, 12))
	row := func(disk, vm, size, alloc, changed, enc, basis string) string {
		return strings.TrimRight(fmt.Sprintf("  %s %s %8s %9s %10s %-3s  %s", common.Pad(disk, diskW), common.Pad(vm, vmW),
			size, alloc, changed, enc, basis), " ")
	}
	basisW := y.w - (2 + diskW + 1 + vmW + 1 + 8 + 1 + 9 + 1 + 10 + 1 + 3 + 2)
	inline := true
	var notes []string
	for _, d := range y.est.Disks {
		inline = inline && ansi.StringWidth(d.Basis) <= basisW
	}
	out := []string{st.Subtle.Render(row("DISK", "VM", "SIZE", "ALLOCATED", "CHANGED", "ENC", "BASIS"))}
	for _, d := range y.est.Disks {
		enc := "no"
		if d.Encrypted {
			enc = "yes"
		}
		changed := units.Bytes(d.ChangedEstimate)
		if d.Bound {
			changed = "≤ " + changed
		}
		basis := d.Basis
		if !inline {
			n := 0
			for i, b := range notes {
				if b == d.Basis {
					n = i + 1
				}
			}
			if n == 0 {
				notes = append(notes, d.Basis)
				n = len(notes)
			}
			basis = fmt.Sprintf("[%d]", n)
		}
		out = append(out, row(d.Blob, d.VM, units.Bytes(d.Size), units.Bytes(d.Allocated), changed, enc, basis))
	}
	for i, b := range notes {
		lead := fmt.Sprintf("  [%d] ", i+1)
		out = append(out, common.StyleLines(st.Subtle, strings.Join(common.Hang(lead, b, len(lead), y.w), "\n")))
	}
	return out
}

func (y *syncStep) ShortHelp() []key.Binding {
	km := y.s.c.Keys
	up := km.Up
	up.SetHelp("↑/↓", "option")
	return []key.Binding{up, km.Wizard.Next}
}

func (y *syncStep) FullHelp() [][]key.Binding {
	km := y.s.c.Keys
	return [][]key.Binding{{km.Up, km.Down, km.Wizard.Retry, km.Wizard.Next}}
}

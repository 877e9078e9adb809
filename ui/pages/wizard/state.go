package wizard

import (
	"context"
	"fmt"

	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// state is what the steps share: the choices so far and what the service
// said about them. Steps write choices only when the operator confirms a
// step, so going back and forth keeps them.
type state struct {
	c       *common.Common
	spin    spinner.Model
	seq     int
	choices workflow.Choices
	plans   []workflow.PlanInfo
	sites   workflow.SiteInfo

	// Filled in by the steps, for the summary.
	est     *workflow.Estimate
	cert    *workflow.CertInfo
	certFor string // plan key the certificate report belongs to
	noCerts bool   // no disk of certFor is encrypted: skip that step
	pre     *workflow.PreflightReport
	locRep  *workflow.LocationReport
}

// planKey names the chosen plan or VM.
func (s *state) planKey() string { return s.choices.Plan + "|" + s.choices.VM }

// plan returns the chosen plan.
func (s *state) plan() (workflow.PlanInfo, bool) {
	for _, p := range s.plans {
		if (p.Single && p.Name == s.choices.VM) || (!p.Single && p.Name == s.choices.Plan) {
			return p, true
		}
	}
	return workflow.PlanInfo{}, false
}

// navMsg moves the wizard by delta steps.
type navMsg struct{ delta int }

func nav(delta int) tea.Cmd { return common.Send(navMsg{delta: delta}) }

// request tracks one step's outstanding service call, so that a late
// answer to a question no longer asked is dropped.
type request struct {
	id     int
	cancel context.CancelFunc
	busy   bool
}

// begin starts a new request, cancelling the previous one.
func (s *state) begin(r *request) (int, context.Context) {
	r.stop()
	s.seq++
	ctx, cancel := context.WithCancel(s.c.Ctx)
	r.id, r.cancel, r.busy = s.seq, cancel, true
	return r.id, ctx
}

// stop abandons the outstanding request.
func (r *request) stop() {
	if r.cancel != nil {
		r.cancel()
	}
	r.busy = false
}

// accept reports whether an answer with id is the one awaited.
func (r *request) accept(id int) bool {
	if !r.busy || id != r.id {
		return false
	}
	r.stop()
	return true
}

// loaded is a service answer tagged with the request id that asked.
type loaded[T any] struct {
	id  int
	val T
	err error
}

// call runs f off the UI goroutine and tags its answer.
func call[T any](id int, ctx context.Context, f func(context.Context) (T, error)) tea.Cmd {
	return func() tea.Msg {
		v, err := f(ctx)
		return loaded[T]{id: id, val: v, err: err}
	}
}

// waiting renders the spinner with what is being waited for.
func (s *state) waiting(what string) string {
	return s.spin.View() + " " + what
}

// failed renders a service error with what the operator can do.
func (s *state) failed(what string, err error) string {
	return s.c.Styles.Error.Render(fmt.Sprintf("Could not %s: %v", what, err)) + "\n" +
		s.c.Styles.Subtle.Render("Press r to try again, esc to go back.")
}

// counts are a plan's VMs, disks and bytes; reading and unreadable count
// the disks whose size is still being read or could not be read.
type counts struct {
	vms, disks          int
	size                int64
	reading, unreadable int
}

// vmCount counts a plan's VMs, disks and bytes.
func vmCount(p workflow.PlanInfo) counts {
	var c counts
	for _, g := range p.Groups {
		for _, v := range g {
			c.vms++
			for _, d := range v.Disks {
				c.disks++
				c.size += d.Size
				switch {
				case d.SizeError != "":
					c.unreadable++
				case d.Size == 0:
					c.reading++
				}
			}
		}
	}
	return c
}

// text is the plan's one-line description: "3 VM(s) in 2 group(s),
// 4 disk(s), 893 GiB", saying when the total misses some disks.
func (c counts) text(groups int) string {
	s := fmt.Sprintf("%d VM(s) in %d group(s), %d disk(s), ", c.vms, groups, c.disks)
	switch {
	case c.reading == c.disks && c.disks > 0:
		return s + "sizes being read…"
	case c.unreadable == c.disks && c.disks > 0:
		return s + "sizes unknown"
	}
	s += units.Bytes(c.size)
	switch {
	case c.reading > 0 && c.unreadable > 0:
		s += fmt.Sprintf(" so far (%d still being read, %d unreadable)", c.reading, c.unreadable)
	case c.reading > 0:
		s += fmt.Sprintf(" so far (%d still being read)", c.reading)
	case c.unreadable > 0:
		s += fmt.Sprintf(" without %d unreadable disk(s)", c.unreadable)
	}
	return s
}

// sizesPending says some disk's size is still being read.
func sizesPending(plans []workflow.PlanInfo) bool {
	for _, p := range plans {
		if vmCount(p).reading > 0 {
			return true
		}
	}
	return false
}

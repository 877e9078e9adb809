package disktable

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// The grouped layout is for a job whose disks do not fit one per line
// (a 50-VM plan): a line for the job, a line per start group, and inside
// a group that is moving a line per VM with its disks summed. A group at
// rest (every disk done, or none started) is its line alone. A disk
// that failed or that Azure throttles keeps its own lines under its VM,
// so what needs the operator is never summed away.

// tally sums the disks of a VM, a group or a job.
type tally struct {
	vms, disks                    int
	done, moving, waiting, failed int
	throttled                     int
	size, moved, differed         int64
	weighted                      float64 // sum of Percent*Size
	rate                          float64
	left                          time.Duration // the longest
}

func (t *tally) add(d workflow.DiskView) {
	t.disks++
	switch d.Phase {
	case "done":
		t.done++
	case "failed":
		t.failed++
	case "", "waiting", "queued":
		t.waiting++
	default:
		t.moving++
	}
	if d.Error != "" && d.Phase != "failed" {
		t.failed++
	}
	if d.Throttled {
		t.throttled++
	}
	t.size += d.Size
	t.moved += d.BytesTransferred
	t.differed += d.BlocksDiffered
	t.weighted += d.Percent * float64(d.Size)
	t.rate += d.Rate
	t.left = max(t.left, d.ETA)
}

func (t *tally) merge(o tally) {
	t.vms += o.vms
	t.disks += o.disks
	t.done += o.done
	t.moving += o.moving
	t.waiting += o.waiting
	t.failed += o.failed
	t.throttled += o.throttled
	t.size += o.size
	t.moved += o.moved
	t.differed += o.differed
	t.weighted += o.weighted
	t.rate += o.rate
	t.left = max(t.left, o.left)
}

func (t *tally) percent() float64 {
	if t.size <= 0 {
		return 0
	}
	return t.weighted / float64(t.size)
}

// atRest: nothing of it moves now, and nothing went wrong.
func (t *tally) atRest() bool {
	return t.moving == 0 && t.failed == 0 && t.throttled == 0 && (t.done == t.disks || t.waiting == t.disks)
}

// counts says how many disks are in each state, the states that have any.
func (t *tally) counts() string {
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{{t.done, "done"}, {t.moving, "moving"}, {t.waiting, "waiting"}, {t.failed, "failed"}, {t.throttled, "throttled"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	return strings.Join(parts, ", ")
}

// group is one start group of the job's VMs.
type group struct {
	n   int
	vms []workflow.VMView
	sum tally
	per []tally // per VM
}

func (m *Model) groups() ([]group, tally) {
	by := map[int]*group{}
	var job tally
	for _, v := range m.job.VMs {
		g := by[v.Group]
		if g == nil {
			g = &group{n: v.Group}
			by[v.Group] = g
		}
		vt := tally{vms: 1}
		for _, d := range v.Disks {
			vt.add(d)
		}
		g.vms = append(g.vms, v)
		g.per = append(g.per, vt)
		g.sum.merge(vt)
	}
	out := make([]group, 0, len(by))
	for _, g := range by {
		job.merge(g.sum)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out, job
}

// groupedLines is the grouped layout of the job.
func (m *Model) groupedLines() []string {
	st := m.c.Styles
	groups, job := m.groups()
	head := []string{fmt.Sprintf("%d VMs, %d disks in %d groups", job.vms, job.disks, len(groups)), job.counts()}
	var out []string
	for _, l := range common.JoinWrap(head, " · ", m.w, "  ") {
		out = append(out, st.Subtle.Render(l))
	}
	for _, g := range groups {
		t := g.sum
		parts := []string{fmt.Sprintf("group %d", g.n), fmt.Sprintf("%d VMs", t.vms), fmt.Sprintf("%d disks", t.disks),
			t.counts(), common.Pct(t.percent())}
		if rate, left := m.tallySpeed(t); rate != "" {
			parts = append(parts, rate)
			if left != "" {
				parts = append(parts, left+" left")
			}
		}
		for _, l := range common.JoinWrap(parts, " · ", m.w, "  ") {
			out = append(out, st.Title.Render(l))
		}
		if m.job.State == workflow.StateCancelled {
			out = append(out, "  "+st.OK.Render("rolled back: as it was before the job"))
			continue
		}
		if t.atRest() {
			continue
		}
		for i, v := range g.vms {
			out = append(out, m.vmLine(v, g.per[i]))
			for _, d := range v.Disks {
				out = append(out, m.problemLines(d)...)
			}
		}
	}
	return out
}

// tallySpeed is the summed rate and the longest time left of disks
// moving now (blanks otherwise, as speed says for one disk).
func (m *Model) tallySpeed(t tally) (rate, left string) {
	if !m.job.State.Moving() || t.moving == 0 || t.rate <= 0 {
		return "", ""
	}
	rate = common.Rate(t.rate)
	if t.left > 0 {
		left = common.Dur(t.left)
	}
	return rate, left
}

// vmLine is one VM's disks summed on one line.
func (m *Model) vmLine(v workflow.VMView, t tally) string {
	rate, left := m.tallySpeed(t)
	if left != "" {
		left += " left"
	}
	phase := orDash(v.Phase)
	switch {
	case t.failed > 0:
		phase = m.c.Styles.Fail.Render(common.Pad("failed", 9))
	case t.done == t.disks:
		phase = m.c.Styles.OK.Render(common.Pad("done", 9))
	default:
		phase = common.Pad(phase, 9)
	}
	if m.w >= wide {
		return strings.TrimRight(fmt.Sprintf("  %s %s %-8s %s  %11s %9s %11s %11s",
			common.Pad(v.Name, 16), phase, fmt.Sprintf("%d disk%s", t.disks, plural(t.disks)), common.Pct(t.percent()),
			fmt.Sprintf("%d blk", t.differed), units.Bytes(t.moved), rate, left), " ")
	}
	return strings.TrimRight(fmt.Sprintf("  %s %s %s %9s %10s %11s",
		common.Pad(v.Name, 12), phase, common.Pct(t.percent()), units.Bytes(t.moved), rate, left), " ")
}

// problemLines are a disk's own lines when it failed or Azure throttles
// it: its name and what is wrong.
func (m *Model) problemLines(d workflow.DiskView) []string {
	if d.Error == "" && !d.Throttled {
		return nil
	}
	st := m.c.Styles
	out := []string{fmt.Sprintf("    %s %s %s", common.Pad(d.Name, 18), m.phase(d), common.Pct(d.Percent))}
	out = append(out, m.throttleLines(d)...)
	if d.Error != "" {
		for _, l := range common.Hang("    error: ", d.Error, 11, m.w) {
			out = append(out, st.Error.Render(l))
		}
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

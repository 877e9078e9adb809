package monitor

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// titleLines is the selected job's headline: what, state, how, where,
// who, wrapped at the separators onto at most two lines; then its
// figures (the phase and how far through it, the totals), what Complete
// failover would cost now, what it waits for, reverse replication's
// cycles, and its error: nothing that matters is cut at the right edge.
func (m *Model) titleLines(j workflow.JobView) []string {
	st := m.c.Styles
	where := "original location"
	if j.Choices.Location == workflow.LocAlternate {
		where = "to " + j.Choices.AltHost
	}
	state := string(j.State)
	if j.State == workflow.StateCatchUp && j.Pass > 0 {
		state += fmt.Sprintf(" (pass %d)", j.Pass)
	}
	parts := []string{state, string(j.Choices.Sync) + " sync", where, "by " + j.Owner.Name}
	head := j.ID + " " + j.Title
	lines := m.wrap(append([]string{head}, parts...), 2)
	lines[0] = st.Header.Render(head) + strings.TrimPrefix(lines[0], head)
	lines = append(lines, m.wrap(figureParts(j), 2)...)
	for _, l := range m.wrap(hostParts(j), 2) {
		lines = append(lines, st.Subtle.Render(l))
	}
	if e := j.CompleteNow; e != nil {
		lines = append(lines, common.StyleLines(st.OK, strings.Join(common.WrapCell(e.Text(), m.w), "\n")))
	}
	if j.Wait != "" {
		lines = append(lines, m.cut(st.Warn, "waiting: "+j.Wait)...)
	}
	if j.ReverseCycles > 0 || !j.NextReverse.IsZero() {
		r := fmt.Sprintf("reverse: %d cycle(s)", j.ReverseCycles)
		if !j.LastReverse.IsZero() {
			r += ", last " + j.LastReverse.Local().Format("15:04:05")
		}
		if !j.NextReverse.IsZero() {
			r += ", next " + j.NextReverse.Local().Format("15:04:05")
		}
		lines = append(lines, st.Subtle.Render(common.Clamp(r, m.w, 1)))
		for _, w := range reverseWarnings(j, m.clock()) {
			lines = append(lines, m.cut(st.Warn, w)...)
		}
	}
	if j.Error != "" {
		lines = append(lines, m.cut(st.Error, "error: "+j.Error)...)
	}
	return lines
}

// figureParts are the job's figures as the title says them.
func figureParts(j workflow.JobView) []string {
	phase := j.Phase
	if phase == "" {
		phase = string(j.State)
	}
	if !j.State.Final() {
		phase += " " + strings.TrimSpace(j.DoneText())
	}
	parts := []string{phase}
	if j.ETA > 0 && j.State.Moving() {
		parts = append(parts, common.Dur(j.ETA)+" left")
	}
	t := j.Totals
	parts = append(parts, fmt.Sprintf("moved %s in %d pass(es)", units.Bytes(t.Moved), t.Passes))
	if t.FinalDone || t.FinalDelta > 0 {
		parts = append(parts, "final delta "+units.Bytes(t.FinalDelta))
	}
	switch {
	case t.DowntimeLive:
		parts = append(parts, "downtime so far "+common.Dur(t.Downtime))
	case t.Downtime > 0:
		parts = append(parts, "downtime "+common.Dur(t.Downtime))
	}
	return parts
}

// hostParts are each host's throughput while a job spread over several
// hosts moves (each host's mover, or this machine for a share).
func hostParts(j workflow.JobView) []string {
	hs := j.HostsMoving()
	if hs != nil {
		hs[0] = "hosts: " + hs[0]
	}
	return hs
}

// wrap joins parts with " · " onto at most n lines of the width.
func (m *Model) wrap(parts []string, n int) []string {
	lines := common.JoinWrap(parts, " · ", m.w, "  ")
	if len(lines) > n {
		lines = append(lines[:n-1], common.Clamp(strings.Join(lines[n-1:], " · "), m.w, 1))
	}
	return lines
}

// cut wraps text onto at most two lines in style, marking a cut.
func (m *Model) cut(style lipgloss.Style, text string) []string {
	ls := common.WrapCell(text, m.w)
	if len(ls) > 2 {
		ls = ls[:2]
		ls[1] = common.Pad(ls[1], m.w-1) + "…"
	}
	for i := range ls {
		ls[i] = style.Render(ls[i])
	}
	return ls
}

// clock is the console's time (tests fix it).
func (m *Model) clock() time.Time {
	if m.c.Now != nil {
		return m.c.Now()
	}
	return time.Now()
}

// reverseWarnings are the job-level warnings of reverse replication: a VM
// whose newest recovery point misses the RPO target, and a cycle that ran
// longer than the interval between cycles.
func reverseWarnings(j workflow.JobView, now time.Time) []string {
	var late []string
	var slow *workflow.ReverseView
	for _, vm := range j.VMs {
		for _, d := range vm.Disks {
			if r := d.Reverse; r != nil {
				if r.Late(now) {
					late = append(late, fmt.Sprintf("%s (newest %s old)", vm.Name, common.Dur(now.Sub(r.Newest))))
				}
				if r.Slow {
					slow = r
				}
				break
			}
		}
	}
	var out []string
	if len(late) > 0 {
		out = append(out, fmt.Sprintf("RPO missed (target %s): %s", common.Dur(firstTarget(j)), strings.Join(late, ", ")))
	}
	if slow != nil {
		out = append(out, fmt.Sprintf("the last cycle took %s, longer than the interval between cycles: recovery points fall behind", common.Dur(slow.CycleTook)))
	}
	return out
}

func firstTarget(j workflow.JobView) time.Duration {
	for _, vm := range j.VMs {
		for _, d := range vm.Disks {
			if d.Reverse != nil {
				return d.Reverse.RPOTarget
			}
		}
	}
	return 0
}

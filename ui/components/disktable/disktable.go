// Package disktable shows, for one job, every VM and every disk with the
// workflow's figures (workflow.DiskView, each defined once there): the
// step and the pass it belongs to, one bar with its percentage (the
// step's progress through its scope), blocks that differed and bytes the
// pass moved so far, the measured rate and time left. Wide terminals get
// one line per disk, narrow ones two; a disk read through the Azure-side
// agent gets one more saying what the agent checked in Azure and what
// crossed the link, and a disk replicated back to Azure what each cycle
// sent and the recovery points it keeps.
package disktable

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/progress"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// wide is the width from which a disk fits on one line.
const wide = 116

// Model is the disk table of one job.
type Model struct {
	c      *common.Common
	job    *workflow.JobView
	offset int
	w, h   int
	bar    progress.Model
	now    func() time.Time
}

var _ common.Component = (*Model)(nil)

// New returns an empty table. The bars take the program's colour
// profile, not the process's stdout's (which, over SSH, is the server's).
func New(c *common.Common) *Model {
	p := c.Styles.Renderer.ColorProfile()
	return &Model{
		c:   c,
		bar: progress.New(progress.WithoutPercentage(), progress.WithColorProfile(p), progress.WithSolidFill("#5FAFD7")),
		now: c.Now,
	}
}

// SetJob shows job j (nil: none).
func (m *Model) SetJob(j *workflow.JobView) {
	if m.job == nil || j == nil || m.job.ID != j.ID {
		m.offset = 0
	}
	m.job = j
	m.clampOffset()
}

// Height is the number of lines the view has.
func (m *Model) Height() int { return m.h }

// SetSize implements common.Component.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.bar.Width = max(w-60, 6)
	if w >= wide {
		m.bar.Width = min(w-92, 40)
	}
	m.clampOffset()
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: page keys scroll when the disks do not fit.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, m.c.Keys.PageDown):
			m.offset += max(m.h-1, 1)
		case key.Matches(k, m.c.Keys.PageUp):
			m.offset -= max(m.h-1, 1)
		}
		m.clampOffset()
	}
	return m, nil
}

func (m *Model) clampOffset() {
	_, m.offset = common.Window(m.lines(), m.offset, m.h, "", nil)
}

// View implements tea.Model.
func (m *Model) View() string {
	view, _ := common.Window(m.lines(), m.offset, m.h, "pgup/pgdn", m.c.Styles.Subtle.Render)
	return common.Clamp(strings.Join(view, "\n"), m.w, m.h)
}

func (m *Model) lines() []string {
	if m.job == nil {
		return nil
	}
	st := m.c.Styles
	var out []string
	if m.w >= wide {
		out = append(out, st.Subtle.Render(fmt.Sprintf("  %-18s %-9s %-13s %-*s  %11s %9s %11s %6s",
			"DISK", "STEP", "PASS", m.bar.Width+5, "PROGRESS", "DIFFERED", "MOVED", "RATE", "LEFT")))
	}
	for _, v := range m.job.VMs {
		parts := []string{v.Name, fmt.Sprintf("group %d", v.Group), v.Host, "Azure " + orDash(v.AzureState),
			"on-prem " + orDash(v.OnPremState), orDash(v.Phase)}
		for _, l := range common.JoinWrap(parts, " · ", m.w, "  ") {
			out = append(out, st.Title.Render(l))
		}
		for _, d := range v.Disks {
			switch {
			case m.job.State == workflow.StateCancelled:
				// The bars of the passes that ran would read as data
				// that stayed: a cancel rolled every block back.
				out = append(out, fmt.Sprintf("  %s %8s  %s", common.Pad(d.Name, 18), units.Bytes(d.Size),
					st.OK.Render("rolled back: as it was before the job")))
			case m.w >= wide:
				out = append(out, m.wideLine(d))
			default:
				out = append(out, m.narrowLines(d)...)
			}
			out = append(out, m.agentLines(d)...)
			out = append(out, m.reverseLines(d)...)
			if d.Error != "" {
				for _, l := range common.Hang("    error: ", d.Error, 11, m.w) {
					out = append(out, st.Error.Render(l))
				}
			}
		}
		out = append(out, m.testLines(v.Name)...)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// progressBar is the step's one bar and its percentage: exactly
// DiskView.Percent, full once the disk is done.
func (m *Model) progressBar(d workflow.DiskView) string {
	if d.Phase == "waiting" {
		return m.bar.ViewAs(0) + "     "
	}
	return m.bar.ViewAs(min(max(d.Percent, 0), 100)/100) + " " + common.Pct(d.Percent)
}

func (m *Model) phase(d workflow.DiskView) string {
	st := m.c.Styles
	switch d.Phase {
	case "done":
		return st.OK.Render(common.Pad(d.Phase, 9))
	case "failed":
		return st.Fail.Render(common.Pad(d.Phase, 9))
	}
	return common.Pad(orDash(d.Phase), 9)
}

// speed is the rate and time left of a disk that is moving now, blanks
// otherwise: a finished disk, or one of a job that failed, keeps its
// last sample, which would read as live.
func (m *Model) speed(d workflow.DiskView) (rate, left string) {
	switch {
	case m.job == nil || m.job.State.Stopped() || m.job.State.Final():
		return "", ""
	case d.Phase != "checksum" && d.Phase != "transfer" && d.Phase != "verify" && d.Phase != "rollback" && d.Phase != "reverse":
		return "", ""
	}
	return common.Rate(d.Rate), common.Dur(d.ETA)
}

// moved is what the pass wrote: so far while it runs, its whole once
// every block is settled.
func moved(d workflow.DiskView) string {
	if d.Phase == "waiting" {
		return ""
	}
	return units.Bytes(d.BytesTransferred)
}

func (m *Model) wideLine(d workflow.DiskView) string {
	rate, left := m.speed(d)
	diff := ""
	if d.Phase != "waiting" {
		diff = fmt.Sprintf("%d blk", d.BlocksDiffered)
	}
	return fmt.Sprintf("  %s %s %s %s  %11s %9s %11s %6s",
		common.Pad(d.Name, 18), m.phase(d), common.Pad(orDash(d.Pass), 13), m.progressBar(d),
		diff, moved(d), rate, left)
}

func (m *Model) narrowLines(d workflow.DiskView) []string {
	rate, left := m.speed(d)
	// Unknown figures ("-") are a placeholder in the wide table's
	// columns; on a narrow line "- left" reads as a figure.
	if rate == "-" {
		rate = ""
	}
	switch left {
	case "", "-":
		left = ""
	default:
		left += " left"
	}
	l1 := strings.TrimRight(fmt.Sprintf("  %s %8s %s %-13s %10s %11s",
		common.Pad(d.Name, 18), units.Bytes(d.Size), m.phase(d), common.Pad(d.Pass, 13), rate, left), " ")
	l2 := "    " + m.progressBar(d)
	if d.Phase != "waiting" {
		l2 += fmt.Sprintf("  diff %d blk  moved %s", d.BlocksDiffered, moved(d))
	}
	return []string{l1, strings.TrimRight(l2, " ")}
}

// reverseLines say, under a disk replicated back to Azure, what its
// newest cycles sent and which recovery points it keeps, how old.
func (m *Model) reverseLines(d workflow.DiskView) []string {
	r := d.Reverse
	if r == nil {
		return nil
	}
	now := time.Now()
	if m.now != nil {
		now = m.now()
	}
	var sent []string
	for i := len(r.Cycles) - 1; i >= 0 && len(sent) < 4; i-- {
		c := r.Cycles[i]
		sent = append(sent, fmt.Sprintf("%s at %s", units.Bytes(c.Sent), c.At.Local().Format("15:04")))
	}
	t := "reverse: sent " + strings.Join(sent, ", ")
	if len(r.Cycles) > len(sent) {
		t += fmt.Sprintf(" (newest first, of %d cycles)", len(r.Cycles))
	}
	if r.Changes != "" {
		t += fmt.Sprintf("; last cycle read %s, changes found %s", units.Bytes(r.Read), r.Changes)
	}
	if r.Points > 0 {
		t += fmt.Sprintf("; %d recovery point(s)", r.Points)
		if !r.Newest.IsZero() {
			t += fmt.Sprintf(", newest %s old", common.Dur(now.Sub(r.Newest)))
			if r.Consistency != "" {
				t += " (" + r.Consistency + ")"
			}
		}
		if !r.Oldest.IsZero() && r.Points > 1 {
			t += fmt.Sprintf(", oldest %s old", common.Dur(now.Sub(r.Oldest)))
		}
	}
	var out []string
	for _, l := range common.Hang("    ", t, 6, m.w) {
		out = append(out, m.c.Styles.Subtle.Render(l))
	}
	return out
}

// agentLines say, under a disk read through the Azure-side agent, what
// the agent checked in Azure and what crossed the link instead (and,
// while it is unreachable, that reads go straight to storage).
func (m *Model) agentLines(d workflow.DiskView) []string {
	a := d.Agent
	if a == nil {
		return nil
	}
	t := fmt.Sprintf("via agent: checked %s in Azure, link %s", units.Bytes(a.AzureChecked), units.Bytes(a.LinkBytes))
	if a.BlockBytes > 0 && a.CompressionSaved > 0 {
		t += fmt.Sprintf(" (zstd saved %.0f%%)", 100*float64(a.CompressionSaved)/float64(a.BlockBytes))
	}
	if a.DirectBytes > 0 && !a.Fallback {
		t += fmt.Sprintf("; %s read directly while it was unreachable", units.Bytes(a.DirectBytes))
	}
	var out []string
	for _, l := range common.Hang("    ", t, 6, m.w) {
		out = append(out, m.c.Styles.Subtle.Render(l))
	}
	if a.Fallback {
		w := fmt.Sprintf("agent unreachable: reading directly from storage (%s so far)", units.Bytes(a.DirectBytes))
		for _, l := range common.Hang("    ", w, 6, m.w) {
			out = append(out, m.c.Styles.Warn.Render(l))
		}
	}
	return out
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	return []key.Binding{m.c.Keys.PageUp, m.c.Keys.PageDown}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// Package disktable shows, for one job, every VM and every disk: phase,
// a checksum bar and a transfer bar, blocks that differed, bytes moved,
// rate, time left and percentage. Wide terminals get one line per disk,
// narrow ones two; a disk read through the Azure-side agent gets one more
// saying what the agent checked in Azure and what crossed the link.
package disktable

import (
	"fmt"
	"strings"

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
	check  progress.Model
	xfer   progress.Model
}

var _ common.Component = (*Model)(nil)

// New returns an empty table. The bars take the program's colour
// profile, not the process's stdout's (which, over SSH, is the server's).
func New(c *common.Common) *Model {
	p := c.Styles.Renderer.ColorProfile()
	return &Model{
		c:     c,
		check: progress.New(progress.WithoutPercentage(), progress.WithColorProfile(p), progress.WithSolidFill("#5FAFD7")),
		xfer:  progress.New(progress.WithoutPercentage(), progress.WithColorProfile(p), progress.WithSolidFill("#87D75F")),
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
	bar := max((w-60)/2, 6)
	if w >= wide {
		bar = min(12+(w-wide)/2, 30)
	}
	m.check.Width, m.xfer.Width = bar, bar
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
		out = append(out, st.Subtle.Render(fmt.Sprintf("  %-18s %-9s %-*s  %-*s  %11s %9s %11s %6s %4s",
			"DISK", "PHASE", m.check.Width+5, "CHECKSUM", m.xfer.Width+5, "TRANSFER", "DIFFERED", "MOVED", "RATE", "LEFT", "DONE")))
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
				out = append(out, m.agentLines(d)...)
			default:
				out = append(out, m.narrowLines(d)...)
				out = append(out, m.agentLines(d)...)
			}
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

// bar renders one progress bar with its percentage, or an empty bar and
// "--" while the total is unknown.
func (m *Model) bar(p progress.Model, done, total int64) string {
	if total <= 0 {
		return p.ViewAs(0) + "   --"
	}
	r := common.Ratio(done, total)
	return p.ViewAs(r) + " " + common.Pct(100*r)
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
// otherwise: a finished disk, or one of a job that failed or waits,
// keeps its last sample, which would read as live.
func (m *Model) speed(d workflow.DiskView) (rate, left string) {
	switch {
	case m.job == nil || !m.job.State.Moving():
		return "", ""
	case d.Phase != "checksum" && d.Phase != "transfer" && d.Phase != "verify":
		return "", ""
	}
	return common.Rate(d.Rate), common.Dur(d.ETA)
}

func (m *Model) wideLine(d workflow.DiskView) string {
	rate, left := m.speed(d)
	return fmt.Sprintf("  %s %s %s  %s  %11s %9s %11s %6s %4s",
		common.Pad(d.Name, 18), m.phase(d),
		m.bar(m.check, d.BytesChecked, d.BytesToCheck),
		m.bar(m.xfer, d.BytesTransferred, d.BytesToTransfer),
		fmt.Sprintf("%d blk", d.BlocksDiffered),
		units.Bytes(d.BytesTransferred), rate, left,
		common.Pct(d.Percent))
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
	l1 := strings.TrimRight(fmt.Sprintf("  %s %8s %s %s  %10s  %11s",
		common.Pad(d.Name, 18), units.Bytes(d.Size), m.phase(d), common.Pct(d.Percent),
		rate, left), " ")
	l2 := fmt.Sprintf("    check %s  xfer %s  diff %d blk  moved %s",
		m.bar(m.check, d.BytesChecked, d.BytesToCheck),
		m.bar(m.xfer, d.BytesTransferred, d.BytesToTransfer),
		d.BlocksDiffered, units.Bytes(d.BytesTransferred))
	return []string{l1, l2}
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

// Package common holds what every page and component of the console
// shares: the per-program Common (service, actor, styles, keys, contexts),
// the Component interface, the messages pages use to talk to the root,
// and small formatting helpers.
package common

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/failback/failback/ui/keys"
	"github.com/failback/failback/ui/styles"
	"github.com/failback/failback/workflow"
)

// Common is shared, per program, by every page and component.
type Common struct {
	// Ctx bounds the console's own queries (CheckLocation, Preflight...);
	// it ends with the program, since their answers have nowhere to go.
	Ctx context.Context
	// WorkCtx is passed to Start and Act. It is the server's (or the
	// local process's) context, never a session's: jobs outlive sessions.
	WorkCtx context.Context
	Svc     workflow.Service
	Who     workflow.Actor
	Styles  *styles.Styles
	Keys    *keys.KeyMap
	// Now is the clock ages are read from ("5m old"); tests fix it.
	Now func() time.Time
}

// CanAct says whether this program's actor may start jobs and act.
func (c *Common) CanAct() bool { return c.Who.Role == workflow.RoleOperator }

// Component is a widget or page: a model with its keys and a size.
type Component interface {
	tea.Model
	help.KeyMap
	SetSize(width, height int)
}

// StatusMsg puts a line in the status bar.
type StatusMsg struct {
	Text string
	Err  bool
}

// Status returns a command that shows a status line.
func Status(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return StatusMsg{Text: text, Err: isErr} }
}

// ShowMonitorMsg asks the root to show the monitor, selecting a job.
type ShowMonitorMsg struct{ Select string }

// ShowWizardMsg asks the root to open a fresh wizard.
type ShowWizardMsg struct{}

// RefreshMsg asks the root for a fresh snapshot of the jobs now.
type RefreshMsg struct{}

// Send wraps a message as a command.
func Send(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

// Clamp cuts s to at most w columns per line and h lines, so no page can
// push the layout past the terminal.
func Clamp(s string, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	return strings.Join(lines, "\n")
}

// Fill clamps s to w x h and pads it with empty lines to exactly h lines,
// so the parts below it stay put.
func Fill(s string, w, h int) string {
	s = Clamp(s, w, h)
	n := strings.Count(s, "\n") + 1
	if s == "" {
		n = 0
	}
	if n < h {
		s += strings.Repeat("\n", h-n)
	}
	return s
}

// Wrap breaks text into lines of at most w columns at spaces, keeping
// each paragraph's indentation.
func Wrap(text string, w int) string {
	if w <= 0 {
		return text
	}
	var out []string
	for _, para := range strings.Split(text, "\n") {
		indent := para[:len(para)-len(strings.TrimLeft(para, " "))]
		line := ""
		for _, word := range Words(para) {
			switch {
			case line == "":
				line = indent + word
			case lipgloss.Width(line)+1+lipgloss.Width(word) <= w:
				line += " " + word
			default:
				out = append(out, line)
				line = indent + word
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// Window returns the lines of a scrollable list that fit in h lines
// starting at offset, with a last line saying where the view is (and the
// keys that scroll it) when not everything fits. It returns the offset
// clamped to the valid range.
func Window(lines []string, offset, h int, keys string, hint func(...string) string) ([]string, int) {
	if h <= 0 {
		return nil, 0
	}
	if len(lines) <= h {
		return lines, 0
	}
	page := max(h-1, 1)
	offset = max(min(offset, len(lines)-page), 0)
	end := min(offset+page, len(lines))
	view := append([]string(nil), lines[offset:end]...)
	if h > 1 && hint != nil {
		view = append(view, hint(fmt.Sprintf("  (%d-%d of %d; %s)", offset+1, end, len(lines), keys)))
	}
	return view, offset
}

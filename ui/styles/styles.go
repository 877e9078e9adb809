// Package styles holds the console's lipgloss styles. They are built from
// one program's renderer (the local terminal or one SSH session), never
// from lipgloss's global renderer, so two sessions with different
// terminals (or NO_COLOR) each get what their terminal can show.
package styles

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// Styles is every style the console draws with.
type Styles struct {
	// Renderer is the program's renderer; components that need a fresh
	// style (widths set at render time) start from it.
	Renderer *lipgloss.Renderer

	App       lipgloss.Style
	Header    lipgloss.Style
	HeaderDim lipgloss.Style
	Title     lipgloss.Style
	Subtle    lipgloss.Style
	Selected  lipgloss.Style
	Crumb     lipgloss.Style
	CrumbNow  lipgloss.Style
	Box       lipgloss.Style
	BoxTitle  lipgloss.Style
	Dialog    lipgloss.Style
	Button    lipgloss.Style
	ButtonNow lipgloss.Style

	OK    lipgloss.Style
	Fail  lipgloss.Style
	Warn  lipgloss.Style
	Info  lipgloss.Style
	Error lipgloss.Style

	ActionOn  lipgloss.Style
	ActionOff lipgloss.Style

	Help help.Styles
}

// New builds the styles for one program from its renderer.
func New(r *lipgloss.Renderer) *Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	accent := lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#9D8CFF"}
	subtle := lipgloss.AdaptiveColor{Light: "#8A8A8A", Dark: "#7A7A7A"}
	green := lipgloss.AdaptiveColor{Light: "#1F7A1F", Dark: "#5FD75F"}
	red := lipgloss.AdaptiveColor{Light: "#B00020", Dark: "#FF5F5F"}
	yellow := lipgloss.AdaptiveColor{Light: "#8A6D00", Dark: "#FFD75F"}

	s := &Styles{Renderer: r}
	s.App = r.NewStyle()
	s.Header = r.NewStyle().Bold(true).Foreground(accent)
	s.HeaderDim = r.NewStyle().Foreground(subtle)
	s.Title = r.NewStyle().Bold(true)
	s.Subtle = r.NewStyle().Foreground(subtle)
	s.Selected = r.NewStyle().Bold(true).Foreground(accent)
	s.Crumb = r.NewStyle().Foreground(subtle)
	s.CrumbNow = r.NewStyle().Bold(true).Foreground(accent)
	s.Box = r.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(subtle).Padding(0, 1)
	s.BoxTitle = r.NewStyle().Bold(true).Foreground(accent)
	s.Dialog = r.NewStyle().Border(lipgloss.DoubleBorder()).BorderForeground(accent).Padding(0, 1)
	s.Button = r.NewStyle().Foreground(subtle)
	s.ButtonNow = r.NewStyle().Bold(true).Reverse(true)

	s.OK = r.NewStyle().Foreground(green)
	s.Fail = r.NewStyle().Foreground(red).Bold(true)
	s.Warn = r.NewStyle().Foreground(yellow)
	s.Info = r.NewStyle().Foreground(accent)
	s.Error = r.NewStyle().Foreground(red)

	s.ActionOn = r.NewStyle().Bold(true)
	s.ActionOff = r.NewStyle().Foreground(subtle)

	keyStyle := r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#909090", Dark: "#626262"})
	descStyle := r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#B2B2B2", Dark: "#4A4A4A"})
	sepStyle := r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#DDDADA", Dark: "#3C3C3C"})
	s.Help = help.Styles{
		ShortKey:       keyStyle,
		ShortDesc:      descStyle,
		ShortSeparator: sepStyle,
		Ellipsis:       sepStyle,
		FullKey:        keyStyle,
		FullDesc:       descStyle,
		FullSeparator:  sepStyle,
	}
	return s
}

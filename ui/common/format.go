package common

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/failback/failback/internal/units"
)

// Rate formats bytes per second; zero shows as "-".
func Rate(bps float64) string {
	if bps <= 0 {
		return "-"
	}
	return units.Bytes(int64(bps)) + "/s"
}

// Dur formats a duration compactly ("1h05m", "4m20s", "35s"); zero or
// negative shows as "-" (unknown or nothing left).
func Dur(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// Pct formats a percentage 0..100.
func Pct(p float64) string {
	if p < 0 {
		p = 0
	}
	if p > 100 {
		p = 100
	}
	return fmt.Sprintf("%3.0f%%", p)
}

// Ratio returns done/total as 0..1, 0 when total is unknown.
func Ratio(done, total int64) float64 {
	if total <= 0 {
		return 0
	}
	r := float64(done) / float64(total)
	if r > 1 {
		r = 1
	}
	return r
}

// Pad pads or cuts s to exactly w columns; a cut shows as "…".
func Pad(s string, w int) string {
	n := lipgloss.Width(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-n)
}

// PadLeft right-aligns s in w columns.
func PadLeft(s string, w int) string {
	n := lipgloss.Width(s)
	if n >= w {
		return s
	}
	return strings.Repeat(" ", w-n) + s
}

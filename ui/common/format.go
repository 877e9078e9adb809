package common

import (
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

// Dur formats a duration as units.Duration does ("4m20s"; "-" when
// unknown or nothing is left).
func Dur(d time.Duration) string { return units.Duration(d) }

// Pct formats a percentage 0..100 as units.Percent does (rounded down).
func Pct(p float64) string { return units.Percent(p) }

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

package common

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// Bytes formats a size in binary units ("1.5 GiB").
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 100 {
		return fmt.Sprintf("%.0f %ciB", v, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}

// Rate formats bytes per second; zero shows as "-".
func Rate(bps float64) string {
	if bps <= 0 {
		return "-"
	}
	return Bytes(int64(bps)) + "/s"
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

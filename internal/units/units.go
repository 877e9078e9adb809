// Package units writes byte counts the one way failback shows them
// everywhere: the console, the script commands and the workflow's log
// lines all call Bytes, so a size reads the same wherever it appears.
package units

import (
	"fmt"
	"math"
	"time"
)

// Bytes writes n with a 1024-based unit: "512 B", "1.5 GiB", and sizes of
// 100 units and more without a decimal ("512 MiB"). Negative counts keep
// their sign.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), 0
	for (v >= unit || v <= -unit) && u < 6 {
		v /= unit
		u++
	}
	if v >= 100 || v <= -100 {
		return fmt.Sprintf("%.0f %ciB", v, "KMGTPE"[u-1])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[u-1])
}

// Duration writes a duration compactly, as the console and the commands
// show times left and downtimes: "1h05m", "4m20s", "35s", and "<1s" for
// a positive duration under a second; zero or negative is "-" (unknown,
// or nothing left).
func Duration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	if d < time.Second {
		return "<1s"
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// Percent writes a percentage 0-100 as "37%", rounded down, so "100%"
// is only ever said of something finished.
func Percent(p float64) string {
	p = math.Floor(min(max(p, 0), 100))
	return fmt.Sprintf("%3.0f%%", p)
}

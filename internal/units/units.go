// Package units writes byte counts the one way failback shows them
// everywhere: the console, the script commands and the workflow's log
// lines all call Bytes, so a size reads the same wherever it appears.
package units

import "fmt"

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

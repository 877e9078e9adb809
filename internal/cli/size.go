package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes parseSize accepts. Disk sizes are binary
// everywhere an admin meets them (Hyper-V, qemu-img, Azure's "GiB"), so
// K, M, G, T and P are powers of 1024 with or without "B" or "iB".
var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"P", 50}, {"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}}

// parseSize reads a byte count: "1048576", "512M", "10G", "1.5T", "4KiB",
// "10GB" (1024-based). It refuses negative, fractional-byte and
// overflowing values with a message showing the accepted forms.
func parseSize(text string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(text))
	bad := func() (int64, error) {
		return 0, fmt.Errorf("%q is not a size: write bytes (1048576) or a number with K, M, G, T or P (1024-based), e.g. 512M, 10G, 1.5T", text)
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	shift := uint(0)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, shift = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.shift
			break
		}
	}
	if t == "" || strings.ContainsAny(t, "+-eEnNxX_") {
		return bad()
	}
	if !strings.Contains(t, ".") {
		n, err := strconv.ParseUint(t, 10, 63)
		if err != nil || (shift > 0 && n > math.MaxInt64>>shift) {
			return bad()
		}
		return int64(n) << shift, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return bad()
	}
	v := f * float64(uint64(1)<<shift)
	if v >= 1<<62 || v != math.Trunc(v) {
		return 0, fmt.Errorf("%q is not a whole number of bytes; give the size in a smaller unit", text)
	}
	return int64(v), nil
}

package cli

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	ok := map[string]int64{
		"1048576": 1 << 20, "512M": 512 << 20, "10G": 10 << 30, "1T": 1 << 40, "4k": 4096,
		"10GiB": 10 << 30, "10GB": 10 << 30, " 2 G ": 2 << 30, "1.5G": 3 << 29, "0": 0, "8P": 8 << 50,
	}
	for in, want := range ok {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "-1G", "ten", "1.1", "10X", "1e9", "99999999999T", "0x10", "1.5.5G", "+5"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		} else if !strings.Contains(err.Error(), in) {
			t.Errorf("parseSize(%q): %v does not quote the input", in, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 512: "512 B", 1024: "1 KiB", 10 << 30: "10 GiB", 3 << 29: "1.5 GiB", 1<<40 + 1<<38: "1.25 TiB", 1000000: "976.56 KiB",
	} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

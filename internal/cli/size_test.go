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

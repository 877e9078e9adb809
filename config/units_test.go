package config

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "512": 512, "4K": 4 << 10, "1M": 1 << 20, "1m": 1 << 20, "4G": 4 << 30, "4GB": 4 << 30,
		"4GiB": 4 << 30, "2T": 2 << 40, " 8 MiB ": 8 << 20, "100B": 100,
	} {
		s, err := ParseSize(in)
		if err != nil || s.Bytes() != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, s.Bytes(), err, want)
		}
	}
	for _, in := range []string{"", "M", "1.5G", "-1", "1X", "four", "99999999999T"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	if Bytes(3<<30).String() != "3G" || Bytes(1536<<10).String() != "1536K" || Bytes(1000).String() != "1000" {
		t.Error("Size.String")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"15m": 15 * time.Minute, "1h30m": 90 * time.Minute, "900": 900 * time.Second, "90s": 90 * time.Second,
	} {
		d, err := ParseDuration(in)
		if err != nil || d.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, d.D(), err)
		}
	}
	for _, in := range []string{"", "15 minutes", "-5m", "soon"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	if Span(15*time.Minute).String() != "15m" || Span(time.Hour).String() != "1h" || Span(90*time.Second).String() != "1m30s" {
		t.Errorf("Duration.String: %s %s %s", Span(15*time.Minute), Span(time.Hour), Span(90*time.Second))
	}
}

// TestSizeAcceptsTOMLIntegers proves block_size = 1048576 (an integer)
// decodes like "1M".
func TestSizeAcceptsTOMLIntegers(t *testing.T) {
	c := loadOK(t, validDoc+"[engine]\nblock_size = 2097152\nbandwidth_limit = \"100M\"\n")
	if c.Engine.BlockSize.Bytes() != 2<<20 || c.Engine.BandwidthLimit.Bytes() != 100<<20 {
		t.Errorf("block_size %d bandwidth %d", c.Engine.BlockSize.Bytes(), c.Engine.BandwidthLimit.Bytes())
	}
}

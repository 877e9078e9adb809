package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Size is a byte count written as a number of bytes (1048576) or with a
// 1024-based unit: "512K", "1M", "4G", "2T" (KB/KiB, MB/MiB... mean the
// same). A value that does not parse is kept with its text so Validate can
// report it with its line instead of stopping the whole decode.
type Size struct {
	n    int64
	text string
	bad  bool
}

// Bytes makes a Size from a byte count.
func Bytes(n int64) Size { return Size{n: n} }

// Bytes returns the size in bytes (0 when unset or invalid).
func (s Size) Bytes() int64 { return s.n }

// IsSet reports whether a value was given (even an invalid one).
func (s Size) IsSet() bool { return s.n != 0 || s.text != "" }

// valid reports whether the text parsed.
func (s Size) valid() bool { return !s.bad }

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
	{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
	{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10},
	{"B", 1},
}

// ParseSize reads "4G", "512K", "1048576" or "0".
func ParseSize(text string) (Size, error) {
	t := strings.ToUpper(strings.TrimSpace(text))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || (mult > 1 && n > (1<<62)/mult) {
		return Size{}, fmt.Errorf("%q is not a size: write bytes (1048576) or a number with K, M, G or T (1024-based), e.g. \"4G\"", text)
	}
	return Size{n: n * mult, text: text}, nil
}

// String writes the size in the largest unit that divides it exactly.
func (s Size) String() string {
	if s.bad {
		return s.text
	}
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if s.n != 0 && s.n%u.mult == 0 {
			return strconv.FormatInt(s.n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(s.n, 10)
}

// MarshalText writes String.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText never fails: a bad value is reported by Validate.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		*s = Size{text: string(b), bad: true}
		return nil
	}
	*s = v
	return nil
}

// Duration is a time span written as Go writes it ("90s", "15m", "1h30m")
// or as a number of seconds. Like Size, a bad value waits for Validate.
type Duration struct {
	d    time.Duration
	text string
	bad  bool
}

// Span makes a Duration from a time.Duration.
func Span(d time.Duration) Duration { return Duration{d: d} }

// D returns the time.Duration (0 when unset or invalid).
func (d Duration) D() time.Duration { return d.d }

// IsSet reports whether a value was given (even an invalid one).
func (d Duration) IsSet() bool { return d.d != 0 || d.text != "" }

func (d Duration) valid() bool { return !d.bad }

// ParseDuration reads "15m", "1h30m" or a number of seconds ("900").
func ParseDuration(text string) (Duration, error) {
	t := strings.TrimSpace(text)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 && n < 1<<33 {
		return Duration{d: time.Duration(n) * time.Second, text: text}, nil
	}
	v, err := time.ParseDuration(t)
	if err != nil || v < 0 {
		return Duration{}, fmt.Errorf("%q is not a duration: write e.g. \"90s\", \"15m\" or \"1h30m\"", text)
	}
	return Duration{d: v, text: text}, nil
}

// String writes the duration as Go does, without zero units ("15m").
func (d Duration) String() string {
	if d.bad {
		return d.text
	}
	s := d.d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText writes String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText never fails: a bad value is reported by Validate.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		*d = Duration{text: string(b), bad: true}
		return nil
	}
	*d = v
	return nil
}

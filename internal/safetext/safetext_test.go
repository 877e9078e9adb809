package safetext

import (
	"strings"
	"testing"
)

// The sequences a hostile job title, log line or user name would carry
// come out as visible text: no ESC, no C1 control, no bare CR, no
// newline, no text-reordering character reaches a terminal.
func TestCleanEscapesTerminalControl(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"web01", "web01"},
		{`C:\VMs\web01.vhdx`, `C:\VMs\web01.vhdx`},
		{"naïve ✓ 日本", "naïve ✓ 日本"},
		{"\x1b]0;pwned\x07title", `\x1b]0;pwned\x07title`},                               // OSC window title
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},                                     // colours
		{"\x1b]52;c;ZXZpbA==\x1b\\", `\x1b]52;c;ZXZpbA==\x1b\`},                          // clipboard write
		{"ok\rFAILED", `ok\rFAILED`},                                                     // overwrite a line
		{"line\n12:00:00 alice asked to commit", `line\n12:00:00 alice asked to commit`}, // forged log line
		{"\u009b31m", `\u009b31m`},                                                       // C1 CSI
		{"\xff\x9b", `\xff\x9b`},                                                         // invalid UTF-8, a raw 8-bit CSI
		{"abc\u202edcba", `abc\u202edcba`},                                               // right-to-left override
		{"a\tb\x7f", `a\tb\x7f`},
	} {
		if got := Clean(c.in); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
		if Safe(c.in) != (c.in == c.want) {
			t.Errorf("Safe(%q) = %v", c.in, Safe(c.in))
		}
	}
	if got := Lines("first\n\x1b[2Jsecond\r"); got != "first\n\\x1b[2Jsecond\\r" {
		t.Errorf("Lines kept or lost the wrong characters: %q", got)
	}
}

type inner struct {
	Text string
	N    int
}

type view struct {
	Title   string
	State   kind
	Items   []inner
	Ptr     *inner
	Tags    map[string]string
	Any     any
	Arr     [2]string
	private string
}

type kind string

// Value cleans every string at any depth into a copy, leaves the
// original alone, and returns the very same value when nothing is odd.
func TestValueCleansDeepCopies(t *testing.T) {
	evil := "\x1b]0;x\x07"
	v := view{Title: evil, State: kind(evil), Items: []inner{{Text: "ok"}, {Text: evil, N: 3}},
		Ptr: &inner{Text: evil}, Tags: map[string]string{evil: evil}, Any: evil, Arr: [2]string{"a", evil}, private: evil}
	got := Value(v)
	s := strings.Join([]string{got.Title, string(got.State), got.Items[1].Text, got.Ptr.Text, got.Any.(string), got.Arr[1]}, "|")
	for k, e := range got.Tags {
		s += "|" + k + "|" + e
	}
	if strings.Contains(s, "\x1b") || strings.Contains(s, "\x07") {
		t.Fatalf("control characters left: %q", s)
	}
	if got.Items[1].N != 3 || got.Items[0].Text != "ok" || got.private != evil {
		t.Errorf("other fields changed: %+v", got)
	}
	if v.Title != evil || v.Items[1].Text != evil || v.Ptr.Text != evil || v.Tags[evil] != evil {
		t.Error("Value changed its argument")
	}
	plain := []inner{{Text: "a"}}
	if out := Value(plain); &out[0] != &plain[0] {
		t.Error("a value with nothing to escape was copied")
	}
}

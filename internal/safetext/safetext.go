// Package safetext makes text from outside failback safe to draw on a
// terminal or write into a log: job and plan text, audit lines, PowerShell
// errors, agent and Azure error messages, SSH user names. A terminal obeys
// the control characters in what it is sent (ESC starts sequences that
// set the window title, colours, the clipboard or move the cursor; a bare
// CR overwrites a line; a newline forges a log line), so every string that
// did not come from failback's own code passes Clean before it is drawn
// or logged. Clean is the one escaping function; Lines and Value apply it.
//
// Escaped characters are shown, not dropped, so an operator sees that
// something odd arrived: ESC shows as \x1b, a C1 control as \u009b, an
// invalid UTF-8 byte as \xff, a newline as \n.
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Clean returns s with every control character escaped: C0 controls
// (newline and tab included), DEL, C1 controls, invalid UTF-8 bytes, and
// the Unicode format characters that reorder or hide text (bidirectional
// overrides and isolates, zero-width characters). Other text, backslashes
// included, is unchanged.
func Clean(s string) string { return escape(s, false) }

// Lines is Clean for text meant to span lines (a multi-line error): each
// line is cleaned and the newlines between them are kept; a CR is still
// escaped, so no line can overwrite another.
func Lines(s string) string { return escape(s, true) }

// Safe reports whether Clean would leave s unchanged.
func Safe(s string) bool { return safe(s, false) }

func safe(s string, keepNL bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return safeRunes(s[i:], keepNL)
		}
		if c < 0x20 && !(keepNL && c == '\n') || c == 0x7f {
			return false
		}
	}
	return true
}

func safeRunes(s string, keepNL bool) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || needsEscape(r, keepNL) {
			return false
		}
		i += n
	}
	return true
}

func escape(s string, keepNL bool) string {
	if safe(s, keepNL) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !needsEscape(r, keepNL):
			b.WriteString(s[i : i+n])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

// needsEscape says whether r must not reach a terminal as it is.
func needsEscape(r rune, keepNL bool) bool {
	switch {
	case r == '\n':
		return !keepNL
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200b, r == 0x200e, r == 0x200f, r == 0xfeff:
		return true // Arabic letter mark, zero-width space, LRM, RLM, BOM
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // bidirectional embeddings, overrides and isolates
	}
	return false
}

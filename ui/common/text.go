package common

import (
	"regexp"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// ShortPath shortens a file path to at most w columns by dropping
// folders from the left, so the file name (what tells disks apart)
// stays: "/tmp/lab/hosts/hv01/disks/app01/app01-os.vhdx" at 24 is
// "…/app01/app01-os.vhdx". A name longer than w keeps its end.
func ShortPath(p string, w int) string {
	if ansi.StringWidth(p) <= w || w <= 0 {
		return p
	}
	sep := "/"
	if strings.LastIndex(p, `\`) > strings.LastIndex(p, "/") {
		sep = `\`
	}
	parts := strings.Split(p, sep)
	tail := parts[len(parts)-1]
	if ansi.StringWidth(tail)+2 > w {
		return "…" + tailCols(tail, w-1)
	}
	for i := len(parts) - 2; i >= 0; i-- {
		next := parts[i] + sep + tail
		if ansi.StringWidth(next)+2 > w {
			break
		}
		tail = next
	}
	return "…" + sep + tail
}

// shortWord shortens a path word ("(/tmp/lab/disks/app01)") to w
// columns, keeping the brackets and punctuation around the path.
func shortWord(word string, w int) string {
	inner := strings.TrimLeft(word, `("'[`)
	pre := word[:len(word)-len(inner)]
	path := strings.TrimRight(inner, `)"']:;,.`)
	post := inner[len(path):]
	return pre + ShortPath(path, w-len(pre)-len(post)) + post
}

// tailCols is the last w columns of s.
func tailCols(s string, w int) string {
	r := []rune(s)
	for len(r) > 0 && ansi.StringWidth(string(r)) > w {
		r = r[1:]
	}
	return string(r)
}

func isPath(s string) bool {
	return strings.Count(s, "/")+strings.Count(s, `\`) >= 2
}

// WrapCell wraps plain text into lines of at most w columns for a table
// cell: paths too long for a line are shortened from the left (ShortPath)
// and other words too long for a line are broken, so nothing is left for
// a clamp to cut off silently.
func WrapCell(text string, w int) []string {
	if w <= 0 {
		return []string{text}
	}
	var out []string
	line := ""
	for _, word := range Words(text) {
		if isPath(word) {
			// A path that does not fit on this line moves to the next,
			// whole; but after a short word ("image"), or when it is too
			// long for any line, it is shortened to the room left here
			// (keeping its file name): better than a lone word above it.
			room := w
			if line != "" {
				room = w - ansi.StringWidth(line) - 1
			}
			base := ansi.StringWidth(word[strings.LastIndexAny(word, `/\`)+1:])
			short := line != "" && ansi.StringWidth(line)*3 < w // "image" before it
			switch {
			case ansi.StringWidth(word) <= room:
			case (short || ansi.StringWidth(word) > w) && room >= base+2 && room >= 12:
				word = shortWord(word, room)
			case ansi.StringWidth(word) > w:
				word = shortWord(word, w)
			}
		}
		if ansi.StringWidth(word) > w {
			if line != "" {
				out = append(out, line)
				line = ""
			}
			for ansi.StringWidth(word) > w {
				head := ansi.Truncate(word, w, "")
				out = append(out, head)
				word = strings.TrimPrefix(word, head)
			}
		}
		switch {
		case line == "":
			line = word
		case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= w:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
	}
	if line != "" || len(out) == 0 {
		out = append(out, line)
	}
	return out
}

// Hang wraps text to w columns with every line after the first indented
// by indent spaces (a log line under its time stamp, a fix under its
// check).
func Hang(first string, text string, indent, w int) []string {
	lines := WrapCell(text, max(w-indent, 10))
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		if i == 0 {
			out = append(out, first+l)
			continue
		}
		out = append(out, strings.Repeat(" ", indent)+l)
	}
	return out
}

// StyleLines renders each line of s on its own, so a wrapped paragraph
// keeps its ragged right edge (lipgloss pads a block's lines to one
// width).
func StyleLines(st lipgloss.Style, s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = st.Render(l)
	}
	return strings.Join(lines, "\n")
}

// JoinWrap joins parts with sep, breaking lines only between parts (a
// part is never split unless it alone is wider than w); lines after the
// first start with indent.
func JoinWrap(parts []string, sep string, w int, indent string) []string {
	var out []string
	line := ""
	for _, p := range parts {
		switch {
		case line == "":
			line = p
		case ansi.StringWidth(line)+ansi.StringWidth(sep)+ansi.StringWidth(p) <= w:
			line += sep + p
		default:
			out = append(out, line)
			line = indent + p
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// unitRE matches a size unit as it follows a number ("MiB", "GiB/s",
// "B),").
var unitRE = regexp.MustCompile(`^(B|[KMGTPE]i?B)(/s)?[)\].,;:]*$`)

// Words splits text at spaces like strings.Fields, but keeps a number
// with the unit after it ("17.0 MiB"): a line break between them reads
// as two figures.
func Words(text string) []string {
	f := strings.Fields(text)
	out := make([]string, 0, len(f))
	for i := 0; i < len(f); i++ {
		w := f[i]
		if i+1 < len(f) && w != "" && w[len(w)-1] >= '0' && w[len(w)-1] <= '9' && unitRE.MatchString(f[i+1]) {
			w += " " + f[i+1]
			i++
		}
		out = append(out, w)
	}
	return out
}

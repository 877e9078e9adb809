package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// BurntSushi/toml v1.6.0 keeps key positions private (MetaData has Keys,
// Undecoded, IsDefined and Type, none with a place), so after a successful
// parse this small scanner walks the same text once and records where every
// key, table and array element starts, under the schema path Validate uses:
// "vm[1].disk[0].image", "plan[0].groups[1][0]". It only ever sees TOML the
// real parser accepted, and stops quietly on anything it does not expect.

// position is a 1-based line and column (columns count characters).
type position struct{ Line, Col int }

// positions maps schema paths to where they are written.
type positions map[string]position

// at returns the place of path, else of its nearest written parent.
func (p positions) at(path string) (position, bool) {
	for path != "" {
		if v, ok := p[path]; ok {
			return v, true
		}
		path = parentPath(path)
	}
	return position{}, false
}

// parentPath drops the last ".key" or "[i]" of path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// stripIndexes turns "vm[1].disk[0].blob" into "vm.disk.blob", the form of
// toml.Key.String for keys that need no quoting.
func stripIndexes(path string) string {
	var b strings.Builder
	depth := 0
	for _, r := range path {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

type scanner struct {
	s      string
	i      int
	lines  []int          // byte offset of each line start
	pos    positions      // result
	arrays map[string]int // array-of-tables path -> elements so far
}

// scanPositions records where each key of a valid TOML text is written.
func scanPositions(text string) positions {
	sc := &scanner{s: text, lines: lineStarts(text), pos: positions{}, arrays: map[string]int{}}
	sc.document()
	return sc.pos
}

func (sc *scanner) place(off int) position {
	lo, hi := 0, len(sc.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if sc.lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return position{Line: lo + 1, Col: utf8.RuneCountInString(sc.s[sc.lines[lo]:off]) + 1}
}

func (sc *scanner) record(path string, off int) {
	if _, ok := sc.pos[path]; !ok {
		sc.pos[path] = sc.place(off)
	}
}

func (sc *scanner) eof() bool { return sc.i >= len(sc.s) }

func (sc *scanner) peek(prefix string) bool { return strings.HasPrefix(sc.s[sc.i:], prefix) }

// skip passes spaces and tabs, plus newlines and comments when nl is set.
func (sc *scanner) skip(nl bool) {
	for !sc.eof() {
		switch c := sc.s[sc.i]; {
		case c == ' ' || c == '\t':
			sc.i++
		case nl && (c == '\n' || c == '\r'):
			sc.i++
		case nl && c == '#':
			for !sc.eof() && sc.s[sc.i] != '\n' {
				sc.i++
			}
		default:
			return
		}
	}
}

func (sc *scanner) document() {
	table := ""
	for {
		sc.skip(true)
		if sc.eof() {
			return
		}
		start := sc.i
		switch {
		case sc.peek("[["):
			sc.i += 2
			keys, ok := sc.keys()
			if !ok || !sc.peek("]]") {
				return
			}
			sc.i += 2
			arr := sc.resolve(keys)
			n := sc.arrays[arr]
			sc.arrays[arr] = n + 1
			table = arr + "[" + strconv.Itoa(n) + "]"
			sc.record(arr, start)
			sc.record(table, start)
		case sc.peek("["):
			sc.i++
			keys, ok := sc.keys()
			if !ok || !sc.peek("]") {
				return
			}
			sc.i++
			table = sc.resolve(keys)
			sc.record(table, start)
		default:
			if !sc.keyValue(table) {
				return
			}
		}
	}
}

// resolve turns header keys into a concrete path: each parent that is an
// array of tables means its latest element.
func (sc *scanner) resolve(keys []string) string {
	path := ""
	for i, k := range keys {
		path = join(path, k)
		if n, ok := sc.arrays[path]; ok && i < len(keys)-1 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keyValue reads `dotted.key = value` inside table.
func (sc *scanner) keyValue(table string) bool {
	start := sc.i
	keys, ok := sc.keys()
	if !ok || !sc.peek("=") {
		return false
	}
	sc.i++
	path := table
	for _, k := range keys {
		path = join(path, k)
		sc.record(path, start) // dotted keys: each implicit table too
	}
	return sc.value(path)
}

// keys reads a dotted key (bare or quoted parts) and the spaces after it.
func (sc *scanner) keys() ([]string, bool) {
	var out []string
	for {
		sc.skip(false)
		if sc.eof() {
			return nil, false
		}
		var k string
		switch sc.s[sc.i] {
		case '"':
			end := sc.stringEnd(sc.i+1, '"', true)
			if end < 0 {
				return nil, false
			}
			k = unquoteKey(sc.s[sc.i+1 : end])
			sc.i = end + 1
		case '\'':
			end := sc.stringEnd(sc.i+1, '\'', false)
			if end < 0 {
				return nil, false
			}
			k = sc.s[sc.i+1 : end]
			sc.i = end + 1
		default:
			j := sc.i
			for j < len(sc.s) && isBare(sc.s[j]) {
				j++
			}
			if j == sc.i {
				return nil, false
			}
			k = sc.s[sc.i:j]
			sc.i = j
		}
		out = append(out, k)
		sc.skip(false)
		if !sc.peek(".") {
			return out, true
		}
		sc.i++
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// unquoteKey undoes the common escapes of a basic-string key.
func unquoteKey(s string) string {
	if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
		return u
	}
	return s
}

// stringEnd returns the offset of the quote closing a one-line string
// that starts at from, or -1.
func (sc *scanner) stringEnd(from int, q byte, escapes bool) int {
	for j := from; j < len(sc.s); j++ {
		switch sc.s[j] {
		case '\\':
			if escapes {
				j++
			}
		case q:
			return j
		case '\n':
			return -1
		}
	}
	return -1
}

// value reads one value at path, recording the keys and elements inside.
func (sc *scanner) value(path string) bool {
	sc.skip(false)
	if sc.eof() {
		return false
	}
	switch {
	case sc.peek(`"""`), sc.peek(`'''`):
		q := sc.s[sc.i : sc.i+3]
		j := sc.i + 3
		for j < len(sc.s) {
			if q[0] == '"' && sc.s[j] == '\\' {
				j += 2
				continue
			}
			if strings.HasPrefix(sc.s[j:], q) {
				// Up to two quotes may end the content right before the closing three.
				k := j + 3
				for k < len(sc.s) && k < j+5 && sc.s[k] == q[0] {
					k++
				}
				sc.i = k
				return true
			}
			j++
		}
		return false
	case sc.s[sc.i] == '"' || sc.s[sc.i] == '\'':
		end := sc.stringEnd(sc.i+1, sc.s[sc.i], sc.s[sc.i] == '"')
		if end < 0 {
			return false
		}
		sc.i = end + 1
		return true
	case sc.s[sc.i] == '[':
		sc.i++
		for n := 0; ; n++ {
			sc.skip(true)
			if sc.eof() {
				return false
			}
			if sc.s[sc.i] == ']' {
				sc.i++
				return true
			}
			elem := path + "[" + strconv.Itoa(n) + "]"
			sc.record(elem, sc.i)
			if !sc.value(elem) {
				return false
			}
			sc.skip(true)
			if sc.peek(",") {
				sc.i++
			}
		}
	case sc.s[sc.i] == '{':
		sc.i++
		for {
			sc.skip(true)
			if sc.eof() {
				return false
			}
			if sc.s[sc.i] == '}' {
				sc.i++
				return true
			}
			if !sc.keyValue(path) {
				return false
			}
			sc.skip(true)
			if sc.peek(",") {
				sc.i++
			}
		}
	default:
		// Numbers, booleans and dates: up to a delimiter.
		j := sc.i
		for j < len(sc.s) && !strings.ContainsRune(",]}#\r\n", rune(sc.s[j])) {
			j++
		}
		if j == sc.i {
			return false
		}
		sc.i = j
		return true
	}
}

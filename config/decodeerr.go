package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/failback/failback/internal/secret"
)

// decodeProblem turns a TOML syntax or type error into a Problem that
// keeps its line and column and says what to write instead.
func decodeProblem(file, text string, err error) Problem {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		p := Problem{File: file, Line: pe.Position.Line, Path: pe.LastKey,
			Msg: "not valid TOML: " + pe.Message}
		if strings.Contains(pe.Message, secret.ErrPlaceholder.Error()) {
			p.Msg = pe.Message // valid TOML; a value Secret refuses
		}
		if start := pe.Position.Start; start > 0 && start <= len(text) {
			// The parser points at the string; point at the bad escape itself.
			if m := badEscape.FindStringSubmatch(pe.Message); m != nil {
				end := strings.IndexByte(text[start:], '\n')
				if end < 0 {
					end = len(text) - start
				}
				if i := strings.Index(text[start:start+end], m[1]); i >= 0 {
					start += i
				}
			}
			sc := &scanner{s: text, lines: lineStarts(text)}
			at := sc.place(start)
			p.Line, p.Col = at.Line, at.Col
		}
		p.Fix = syntaxFix(pe.Message)
		if secretKey(pe.LastKey) || secretKey(lineKey(text, pe.Position.Line)) {
			// The parser quotes what it found, which here is (part of) a secret.
			p.Msg = quoted.ReplaceAllString(p.Msg, redacted)
		}
		return p
	}
	return typeProblem(file, text, err)
}

// quoted matches what toml's messages quote: "found \"x\"", "'\\q'".
var quoted = regexp.MustCompile(`"[^"]*"|'[^']*'`)

// secretKeys are the key names of every Secret in the schema.
var secretKeys = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	for _, k := range SchemaKeys() {
		if schemaType(k) == secretType {
			out[k[strings.LastIndexByte(k, '.')+1:]] = true
		}
	}
	return out
})

// secretKey reports whether the last part of a dotted key names a secret.
func secretKey(key string) bool {
	key = key[strings.LastIndexByte(key, '.')+1:]
	return secretKeys()[strings.Trim(key, `"' `)]
}

// lineKey is the key written before "=" on a 1-based line of text, or "".
func lineKey(text string, line int) string {
	starts := lineStarts(text)
	if line < 1 || line > len(starts) {
		return ""
	}
	l := text[starts[line-1]:]
	if i := strings.IndexByte(l, '\n'); i >= 0 {
		l = l[:i]
	}
	k, _, ok := strings.Cut(l, "=")
	if !ok {
		return ""
	}
	return strings.TrimSpace(k)
}

func lineStarts(text string) []int {
	out := []int{0}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			out = append(out, i+1)
		}
	}
	return out
}

// syntaxFix gives the usual cure for the parser's common complaints.
func syntaxFix(msg string) string {
	switch {
	case strings.Contains(msg, "invalid escape"):
		return `inside "double quotes" a backslash starts an escape: write Windows paths in 'single quotes' ('D:\VMs\web01.vhdx') or double each backslash ("D:\\VMs\\web01.vhdx")`
	case strings.Contains(msg, "expected value but found"):
		return `put text in quotes (name = "web01"); numbers and true/false go without`
	case strings.Contains(msg, "has already been defined"):
		return "a key or [table] may appear only once: merge the two, or for another host, VM, disk or plan start a new [[host]], [[vm]], [[vm.disk]] or [[plan]] block"
	case strings.Contains(msg, "newlines not allowed within inline tables"):
		return "keep { ... } on one line, or use a [table] block instead"
	case strings.Contains(msg, "unexpected EOF"):
		return "the file ends in the middle of a value: close the open quote or bracket"
	}
	return ""
}

// typeErr is how toml v1.6.0 words a value of the wrong type; it carries no
// structured position, only the line and the key in its text.
var typeErr = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

var incompatible = regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)

// typeProblem rewords a decode error about a value's type.
func typeProblem(file, text string, err error) Problem {
	m := typeErr.FindStringSubmatch(err.Error())
	if m == nil {
		return Problem{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	p := Problem{File: file, Path: m[2], Msg: m[3]}
	p.Line, _ = strconv.Atoi(m[1])
	// The column of the key on that line, from the scanner.
	for path, at := range scanPositions(text) {
		if stripIndexes(path) == m[2] && at.Line == p.Line && (p.Col == 0 || at.Col < p.Col) {
			p.Col = at.Col
		}
	}
	if t := incompatible.FindStringSubmatch(m[3]); t != nil {
		got, want := tomlTypeName(t[1]), goTypeName(t[2])
		if want == "a list of tables" {
			if st := schemaType(m[2]); st != nil && st.Kind() == reflect.Slice && st.Elem().Kind() != reflect.Struct {
				want = "a list"
			}
		}
		p.Msg = fmt.Sprintf("%s must be %s, not %s", m[2], want, got)
		switch {
		case want == "a list of tables" && got == "a table":
			p.Fix = fmt.Sprintf("write [[%s]] (double brackets): there may be several", m[2])
		case want == "a table" && got == "a list of tables":
			p.Fix = fmt.Sprintf("write [%s] (single brackets): there is only one", m[2])
		case want == "an integer" && got == "a string":
			p.Fix = "write the number without quotes"
		case want == "a list":
			p.Fix = `write it in brackets, e.g. ["web01", "web02"]`
		case want == "a string":
			p.Fix = "put the value in quotes"
		case want == "true or false":
			p.Fix = "write true or false, without quotes"
		}
	}
	if t := mismatch.FindStringSubmatch(m[3]); t != nil {
		got := tomlTypeName(t[1])
		p.Msg = fmt.Sprintf("%s must be a table, not %s", m[2], got)
		p.Fix = fmt.Sprintf("write its keys under a [%s] header", m[2])
		if got == "a list of tables" {
			p.Fix = fmt.Sprintf("write [%s] (single brackets): there is only one", m[2])
		}
	}
	return p
}

var badEscape = regexp.MustCompile(`invalid escape in string '(\\.)'`)

var mismatch = regexp.MustCompile(`^type mismatch for [^:]+: expected table but found (.+)$`)

// tomlTypeName names a toml value's Go type as an admin would.
func tomlTypeName(t string) string {
	switch t {
	case "string":
		return "a string"
	case "int64":
		return "an integer"
	case "float64":
		return "a decimal number"
	case "bool":
		return "true or false"
	case "map[string]interface {}", "map[string]any":
		return "a table"
	case "[]map[string]interface {}", "[]map[string]any":
		return "a list of tables"
	case "time.Time", "toml.LocalDate", "toml.LocalDateTime", "toml.LocalTime":
		return "a date"
	}
	if strings.HasPrefix(t, "[]") {
		return "a list"
	}
	return t
}

// goTypeName names the destination kind toml reports.
func goTypeName(t string) string {
	switch t {
	case "integer":
		return "an integer"
	case "string", "primitive (string-like)":
		return "a string"
	case "boolean":
		return "true or false"
	case "slice", "array":
		return "a list of tables"
	case "map", "struct", "table":
		return "a table"
	case "float":
		return "a decimal number"
	}
	return t
}

package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong in the configuration, with where it is and
// what to write instead.
type Problem struct {
	// File is the config file ("" when the Config was built in code).
	File string `json:"file,omitempty"`
	// Line and Col locate the key (or its table) in File; 0 when unknown.
	Line int `json:"line,omitempty"`
	Col  int `json:"col,omitempty"`
	// Path is the key's place in the schema, e.g. vm[2].disk[0].image.
	Path string `json:"path,omitempty"`
	// Msg says what is wrong.
	Msg string `json:"message"`
	// Fix says what to write instead ("" when Msg already does).
	Fix string `json:"fix,omitempty"`
	// Warning marks a problem that does not stop failback.
	Warning bool `json:"warning,omitempty"`
}

// Where is "file:line:col", "file:line", "file" or the schema path.
func (p Problem) Where() string {
	switch {
	case p.File != "" && p.Line > 0 && p.Col > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	case p.File != "":
		return p.File
	}
	return p.Path
}

// Error is "where: [warning: ]message; fix".
func (p Problem) Error() string {
	var b strings.Builder
	if w := p.Where(); w != "" {
		b.WriteString(w)
		b.WriteString(": ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// Problems is every problem found, in file order. As an error it lists
// them one per line.
type Problems []Problem

// Error joins the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems { return ps.only(false) }

// Warnings returns the problems that are warnings.
func (ps Problems) Warnings() Problems { return ps.only(true) }

func (ps Problems) only(warning bool) Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning == warning {
			out = append(out, p)
		}
	}
	return out
}

// sortByPlace orders problems by line, then column, keeping the order of
// the checks for problems at one place.
func (ps Problems) sortByPlace() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			// Problems without a line go last.
			if ps[i].Line == 0 || ps[j].Line == 0 {
				return ps[j].Line == 0 && ps[i].Line != 0
			}
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
}

// suggest returns the candidate closest to got, or "" when none is close
// enough to be a likely typo.
func suggest(got string, candidates []string) string {
	best, bestD := "", 1<<30
	g := strings.ToLower(got)
	for _, c := range candidates {
		d := editDistance(g, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if n := len(got) / 3; n > limit {
		limit = n
	}
	if best == "" || bestD > limit || bestD >= len(got) {
		return ""
	}
	return best
}

// didYouMean is suggest as a sentence fragment: `did you mean "x"?` or "".
func didYouMean(got string, candidates []string) string {
	if s := suggest(got, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (by rune).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

package hyperv

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A reader for the argument block our scripts start with, written from
// PowerShell's rules rather than from psQuote, so that the tests can check
// what PowerShell would see: a single-quoted literal opens and closes on any
// of ' U+2018 U+2019 U+201A U+201B; inside it two such characters in a row
// stand for the second one; nothing else is special.

func isPSQuote(r rune) bool {
	return r == '\'' || r == '\u2018' || r == '\u2019' || r == '\u201a' || r == '\u201b'
}

// psUnquote decodes the single-quoted literal at the start of s and returns
// its value and what follows the closing quote.
func psUnquote(s string) (string, string, error) {
	r, n := utf8.DecodeRuneInString(s)
	if !isPSQuote(r) {
		return "", s, fmt.Errorf("no literal at %.20q", s)
	}
	var b strings.Builder
	for i := n; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if !isPSQuote(r) {
			b.WriteRune(r)
			continue
		}
		r2, n2 := utf8.DecodeRuneInString(s[i:])
		if i < len(s) && isPSQuote(r2) {
			b.WriteRune(r2)
			i += n2
			continue
		}
		return b.String(), s[i:], nil
	}
	return "", "", fmt.Errorf("unterminated literal")
}

type psReader struct {
	s string
	i int
}

func (p *psReader) rest() string { return p.s[p.i:] }

func (p *psReader) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\r' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *psReader) eat(tok string) bool {
	if strings.HasPrefix(p.rest(), tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *psReader) ident() string {
	j := p.i
	for j < len(p.s) && (p.s[j] == '_' || p.s[j] >= 'a' && p.s[j] <= 'z' || p.s[j] >= 'A' && p.s[j] <= 'Z' || p.s[j] >= '0' && p.s[j] <= '9') {
		j++
	}
	id := p.s[p.i:j]
	p.i = j
	return id
}

// value reads a literal: string, integer, $true/$false, @('...', ...)
// or @(@{...}, ...).
func (p *psReader) value() (any, error) {
	r, _ := utf8.DecodeRuneInString(p.rest())
	switch {
	case isPSQuote(r):
		v, rest, err := psUnquote(p.rest())
		p.i = len(p.s) - len(rest)
		return v, err
	case p.eat("$true"):
		return true, nil
	case p.eat("$false"):
		return false, nil
	case r == '-' || r >= '0' && r <= '9':
		j := p.i + 1
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		p.i = j
		return n, err
	case p.eat("@("):
		var list []map[string]any
		var strs []string
		for {
			p.skipSpace()
			if p.eat(")") {
				if strs != nil {
					return strs, nil
				}
				return list, nil
			}
			if r, _ := utf8.DecodeRuneInString(p.rest()); isPSQuote(r) && list == nil {
				v, rest, err := psUnquote(p.rest())
				if err != nil {
					return nil, err
				}
				p.i = len(p.s) - len(rest)
				strs = append(strs, v)
				p.skipSpace()
				p.eat(",")
				continue
			}
			if strs != nil || !p.eat("@{") {
				return nil, fmt.Errorf("want @{ at %.20q", p.rest())
			}
			m := map[string]any{}
			for {
				p.skipSpace()
				if p.eat("}") {
					break
				}
				k := p.ident()
				p.skipSpace()
				if k == "" || !p.eat("=") {
					return nil, fmt.Errorf("want key = at %.20q", p.rest())
				}
				p.skipSpace()
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				m[k] = v
				p.skipSpace()
				p.eat(";")
			}
			list = append(list, m)
			p.skipSpace()
			p.eat(",")
		}
	}
	return nil, fmt.Errorf("no value at %.20q", p.rest())
}

// parseScript returns the operation named in the header and the arguments
// assigned before the first blank line. Each assignment must end its line:
// anything after a literal would be code an argument smuggled in.
func parseScript(script string) (string, map[string]any, error) {
	header, body, ok := strings.Cut(script, "\n")
	if !ok || !strings.HasPrefix(header, "# failback ") {
		return "", nil, fmt.Errorf("no header line")
	}
	op, _, _ := strings.Cut(strings.TrimPrefix(header, "# failback "), ":")
	p := &psReader{s: body}
	args := map[string]any{}
	for !p.eat("\n") {
		if !p.eat("$") {
			return "", nil, fmt.Errorf("want $Name = at %.30q", p.rest())
		}
		name := p.ident()
		if !p.eat(" = ") {
			return "", nil, fmt.Errorf("want ' = ' after $%s", name)
		}
		v, err := p.value()
		if err != nil {
			return "", nil, fmt.Errorf("$%s: %w", name, err)
		}
		if !p.eat("\n") {
			return "", nil, fmt.Errorf("$%s: the line goes on after the value: %.30q", name, p.rest())
		}
		args[name] = v
	}
	return op, args, nil
}

package hyperv

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"unicode/utf16"
)

// psQuote returns s as a PowerShell single-quoted string literal. Inside
// single quotes PowerShell expands nothing ($, backtick and double quotes
// are plain characters); the only special character is the single quote,
// which is doubled. PowerShell also treats the typographic quotes U+2018,
// U+2019, U+201A and U+201B as single quotes, so they are doubled too (a
// lone one would end the literal). NUL cannot be passed and is dropped;
// strParam marks such a value so that PSHost never sends it.
func psQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case 0:
			continue
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// psInt is an integer literal; numbers need no quoting but go through one
// place so that no caller formats a value into a script by hand.
func psInt(n int64) string { return strconv.FormatInt(n, 10) }

// psBool is $true or $false.
func psBool(v bool) string {
	if v {
		return "$true"
	}
	return "$false"
}

// encodeCommand returns the argument of powershell -EncodedCommand: the
// script as base64 of UTF-16LE, so that no shell between us and PowerShell
// (cmd.exe is OpenSSH's default on Windows) can re-quote or expand it.
func encodeCommand(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return base64.StdEncoding.EncodeToString(b)
}

package sshsrv

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/workflow"
)

// The authorized-keys file is OpenSSH's authorized_keys format, one key a
// line, with the role given as a key option in front of the key type:
//
//	role=operator ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... alice@laptop
//	role=viewer,from="10.1.0.0/16",expiry-time="20261231" ssh-ed25519 AAAA... bob@jumpbox
//
// ssh.ParseAuthorizedKey (and so every tool built on it) reads such lines
// unchanged; the role option is ours. The comment (alice@laptop) names
// the person in the audit log, so a client cannot choose its own name. A
// line without a role, or with another one, is refused: a key grants
// exactly what the file says. OpenSSH's from= and expiry-time= are
// honoured (options.go); a line with an option failback does not
// implement is refused, naming it, rather than granting more than the
// line says. Blank lines and # comments are skipped.

// entry is one authorized key.
type entry struct {
	key  gossh.PublicKey
	fp   string // SHA256 fingerprint
	role workflow.Role
	name string
	opts keyOptions
	line int
}

// admits says why the key may not be used from addr at now, or "".
func (e entry) admits(addr net.Addr, now time.Time) string {
	if !e.opts.expires.IsZero() && !now.Before(e.opts.expires) {
		return fmt.Sprintf("expired at %s (expiry-time on line %d)", e.opts.expires.Format(time.RFC3339), e.line)
	}
	if e.opts.from != nil && !e.opts.from.allows(addr) {
		return fmt.Sprintf("%s is not allowed by from=%q (line %d)", hostOf(addr), e.opts.from.text, e.line)
	}
	return ""
}

// authorized is a parsed authorized-keys file.
type authorized struct {
	entries []entry
}

// lineError is one refused line of the file.
type lineError struct {
	path string
	line int
	err  error
}

func (e lineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.path, e.line, e.err) }

// parseAuthorized reads the file's text. Lines it refuses grant nothing
// and are returned, each with its line number; the others are in force.
func parseAuthorized(path string, data []byte) (*authorized, []lineError) {
	a := &authorized{}
	var bad []lineError
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			bad = append(bad, lineError{path, n, err})
			continue
		}
		e.line = n
		a.entries = append(a.entries, e)
	}
	if err := sc.Err(); err != nil {
		bad = append(bad, lineError{path, n + 1, fmt.Errorf("%w (lines of at most 64 KiB)", err)})
	}
	return a, bad
}

func parseLine(line string) (entry, error) {
	key, comment, options, rest, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return entry{}, fmt.Errorf("not an authorized_keys line: %w", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return entry{}, fmt.Errorf("more than one key on the line: put each key on its own line")
	}
	opts, err := parseOptions(options)
	if err != nil {
		return entry{}, err
	}
	e := entry{key: key, fp: gossh.FingerprintSHA256(key), role: opts.role, opts: opts}
	e.name = e.fp
	if name := strings.Fields(comment); len(name) > 0 {
		e.name = safetext.Clean(name[0])
	}
	return e, nil
}

// lookup finds the entry for key.
func (a *authorized) lookup(key gossh.PublicKey) (entry, bool) {
	if a == nil || key == nil {
		return entry{}, false
	}
	m := key.Marshal()
	for _, e := range a.entries {
		if bytes.Equal(e.key.Marshal(), m) {
			return e, true
		}
	}
	return entry{}, false
}

// hostOf is addr's IP (or the whole address when it has none).
func hostOf(addr net.Addr) string {
	if addr == nil {
		return "(unknown address)"
	}
	if h, _, err := net.SplitHostPort(addr.String()); err == nil {
		return h
	}
	return addr.String()
}

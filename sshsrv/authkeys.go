package sshsrv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/workflow"
)

// The authorized-keys file is OpenSSH's authorized_keys format, one key a
// line, with the role given as a key option in front of the key type:
//
//	role=operator ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... alice@laptop
//	role=viewer ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... bob@jumpbox
//
// ssh.ParseAuthorizedKey (and so every tool built on it) reads such lines
// unchanged; the option is ours. The comment (alice@laptop) names the
// person in the audit log, so a client cannot choose its own name. A
// line without a role, or with another one, is an error: a key grants
// exactly what the file says. Blank lines and # comments are skipped.

// entry is one authorized key.
type entry struct {
	key  gossh.PublicKey
	role workflow.Role
	name string
}

// authorized is a parsed authorized-keys file.
type authorized struct {
	entries []entry
}

// loadAuthorized reads and checks the file at path.
func loadAuthorized(path string) (*authorized, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read authorized keys: %w (create it with one \"role=operator ssh-ed25519 AAAA... name\" line per person)", err)
	}
	return parseAuthorized(path, data)
}

func parseAuthorized(path string, data []byte) (*authorized, error) {
	a := &authorized{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, comment, options, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not an authorized_keys line: %w", path, n, err)
		}
		role, err := roleOf(options)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		name := strings.Fields(comment + " ")
		e := entry{key: key, role: role, name: gossh.FingerprintSHA256(key)}
		if len(name) > 0 {
			e.name = name[0]
		}
		a.entries = append(a.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return a, nil
}

// roleOf finds the role option among a line's options.
func roleOf(options []string) (workflow.Role, error) {
	var role workflow.Role
	for _, o := range options {
		k, v, ok := strings.Cut(o, "=")
		if !ok || !strings.EqualFold(k, "role") {
			continue
		}
		if role != "" {
			return "", fmt.Errorf("two roles on one key: keep one role= option")
		}
		switch r := workflow.Role(strings.ToLower(strings.Trim(v, `"`))); r {
		case workflow.RoleOperator, workflow.RoleViewer:
			role = r
		default:
			return "", fmt.Errorf("unknown role %q: use role=operator or role=viewer", v)
		}
	}
	if role == "" {
		return "", fmt.Errorf("no role: put role=operator or role=viewer before the key type")
	}
	return role, nil
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

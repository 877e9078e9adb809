package lab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// The lab's SSH console: the console lab up opens serves it to watchers
// on the lab's port, as 'failback serve' does. Whoever built the lab may
// log in as an operator with their own ~/.ssh keys: lab up writes them
// into the lab's authorized-keys file, adds keys made since each time it
// runs (a reused lab too), and says which keys may log in and how to let
// another one in. The host key lives outside the lab folder, in the
// user's configuration folder, so ssh recognises the lab after lab down
// and lab up on the same machine.

// The lab's SSH console settings.
const (
	sshListen          = "127.0.0.1:2222"
	authorizedKeysFile = "ssh/authorized_keys"
	// SSHListen is where the lab's console is served to watchers.
	SSHListen = sshListen
)

// userKeyFiles are the public keys of the user's own, in ssh's order.
var userKeyFiles = []string{"id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"}

// hostKey is where the lab's SSH host key is kept: the user's
// configuration folder (the lab folder when there is none).
func (m *Manifest) hostKey() string {
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "failback", "lab_ssh_host_ed25519")
	}
	return m.Path(filepath.Join(stateDirName, "ssh_host_ed25519"))
}

// writeAuthorizedKeys writes the lab's authorized-keys file with the
// user's own public keys as operators.
func writeAuthorizedKeys(path string) error {
	var b strings.Builder
	b.WriteString("# Who may log in to the lab's console over SSH. One OpenSSH public key per\n")
	b.WriteString("# line, marked role=operator (may act) or role=viewer (may only watch):\n")
	b.WriteString("#   role=viewer ssh-ed25519 AAAA... noc@monitor.example.com\n")
	b.WriteString("# lab up adds your own ~/.ssh keys each time it runs; changes here apply at once.\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("lab ssh folder: %w", err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err := addUserKeys(path)
	return err
}

// userKeys are the user's own public keys (~/.ssh), as authorized-keys
// lines without options.
func userKeys() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range userKeyFiles {
		key, err := os.ReadFile(filepath.Join(home, ".ssh", name))
		if err != nil {
			continue
		}
		line := strings.TrimSpace(strings.SplitN(string(key), "\n", 2)[0])
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line)); err == nil {
			out = append(out, line)
		}
	}
	return out
}

// addUserKeys adds the user's keys the file lacks, as operators, and
// says how many it added.
func addUserKeys(path string) (int, error) {
	have, _, err := readAccess(path)
	if err != nil {
		return 0, err
	}
	known := map[string]bool{}
	for _, k := range have {
		known[k.Fingerprint] = true
	}
	var add []string
	for _, line := range userKeys() {
		key, _, _, _, _ := gossh.ParseAuthorizedKey([]byte(line))
		if !known[gossh.FingerprintSHA256(key)] {
			add = append(add, "role=operator "+line+"\n")
		}
	}
	if len(add) == 0 {
		return 0, nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("add your keys to %s: %w", path, err)
	}
	defer f.Close()
	for _, l := range add {
		if _, err := f.WriteString(l); err != nil {
			return 0, fmt.Errorf("add your keys to %s: %w", path, err)
		}
	}
	return len(add), nil
}

// SSHKey is a key that may log in to the lab's console.
type SSHKey struct {
	Role, Type, Fingerprint, Name string
}

// readAccess lists the keys of an authorized-keys file (lines it cannot
// read are counted in bad; the server says why when it loads them).
func readAccess(path string) (keys []SSHKey, bad int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, comment, opts, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			bad++
			continue
		}
		k := SSHKey{Role: "no role", Type: key.Type(), Fingerprint: gossh.FingerprintSHA256(key), Name: comment}
		for _, o := range opts {
			if r, ok := strings.CutPrefix(strings.ToLower(o), "role="); ok {
				k.Role = strings.Trim(r, `"`)
			}
		}
		keys = append(keys, k)
	}
	return keys, bad, sc.Err()
}

// SSHAccess adds the user's ~/.ssh keys made since the lab was built to
// its authorized-keys file, and says in words who may log in to the
// lab's console over SSH, where, and how to let another key in.
func SSHAccess(m *Manifest, shortPath func(string) string) (string, error) {
	path := m.Path(authorizedKeysFile)
	added, err := addUserKeys(path)
	if err != nil {
		return "", err
	}
	keys, bad, err := readAccess(path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nSSH: the console lab up opens (or failback serve) serves watchers on %s: ssh -t -p %s %s\n",
		sshListen, sshListen[strings.LastIndexByte(sshListen, ':')+1:], sshListen[:strings.LastIndexByte(sshListen, ':')])
	switch {
	case len(keys) == 0:
		fmt.Fprintf(&b, "  No key may log in yet: %s lists none, and you have no ~/.ssh key.\n", shortPath(path))
	default:
		fmt.Fprintf(&b, "  These keys may log in (%s", shortPath(path))
		if added > 0 {
			fmt.Fprintf(&b, "; %d of your ~/.ssh keys just added", added)
		}
		b.WriteString("):\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "    %-8s %s %s %s\n", k.Role, k.Type, k.Fingerprint, k.Name)
		}
	}
	if bad > 0 {
		fmt.Fprintf(&b, "  %d line(s) there are not keys; the server says why when it reads them.\n", bad)
	}
	fmt.Fprintf(&b, "  To let a key in, add a line to that file (it applies at once):\n    role=operator ssh-ed25519 AAAA... name   (role=viewer may only watch)\n")
	b.WriteString("  or make your own key (ssh-keygen -t ed25519) and run lab up again: it adds your ~/.ssh keys.\n")
	return b.String(), nil
}

package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/config"
	"github.com/failback/failback/sshsrv"
	"github.com/failback/failback/ui/uitest"
	gossh "golang.org/x/crypto/ssh"
)

// The lab's config lets the user who built it into 'failback serve' as an
// operator: the [ssh] section loads and the SSH server accepts its files.
func TestLabConfigServesTheConsoleToItsUser(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sp))) + " me@jumpbox.example.com"
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := writeConfig(configManifest(dir, MinVMs))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	// The host key outlives the lab folder (ssh knows the lab again after
	// lab down and up); who may log in is the lab's.
	if c.SSH.Listen == "" || !strings.HasPrefix(c.SSH.HostKey, filepath.Join(home, ".config", "failback")) || !strings.HasPrefix(c.SSH.AuthorizedKeys, dir) {
		t.Fatalf("[ssh]: %+v", c.SSH)
	}
	keys, err := os.ReadFile(c.SSH.AuthorizedKeys)
	if err != nil || !strings.Contains(string(keys), "role=operator "+line) {
		t.Fatalf("authorized keys %q (%v): the user's key is not an operator", keys, err)
	}
	if _, err := sshsrv.New(uitest.New(), sshsrv.Options{HostKeyPath: c.SSH.HostKey, AuthorizedKeys: c.SSH.AuthorizedKeys}); err != nil {
		t.Fatalf("the SSH server refuses the lab's files: %v", err)
	}
}

// lab up says which keys may log in and how to let one in, and adds a
// key the user made after the lab was built.
func TestLabSSHAccessAddsKeysMadeLater(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	m := configManifest(dir, MinVMs)
	if _, err := writeConfig(m); err != nil {
		t.Fatal(err)
	}
	same := func(p string) string { return p }
	text, err := SSHAccess(m, same)
	if err != nil || !strings.Contains(text, "No key may log in yet") || !strings.Contains(text, "role=operator ssh-ed25519 AAAA... name") {
		t.Fatalf("no key yet: %v\n%s", err, text)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sp, _ := gossh.NewPublicKey(pub)
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sp))) + " newcomer@laptop"
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text, err = SSHAccess(m, same)
	if err != nil || !strings.Contains(text, "1 of your ~/.ssh keys just added") || !strings.Contains(text, "operator ssh-ed25519 "+gossh.FingerprintSHA256(sp)+" newcomer@laptop") {
		t.Fatalf("a key made later: %v\n%s", err, text)
	}
	if text, _ = SSHAccess(m, same); strings.Contains(text, "just added") {
		t.Fatalf("the key was added twice:\n%s", text)
	}
}

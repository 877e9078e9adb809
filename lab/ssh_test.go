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
	if c.SSH.Listen == "" || !strings.HasPrefix(c.SSH.HostKey, dir) || !strings.HasPrefix(c.SSH.AuthorizedKeys, dir) {
		t.Fatalf("[ssh] not set inside the lab: %+v", c.SSH)
	}
	keys, err := os.ReadFile(c.SSH.AuthorizedKeys)
	if err != nil || !strings.Contains(string(keys), "role=operator "+line) {
		t.Fatalf("authorized keys %q (%v): the user's key is not an operator", keys, err)
	}
	if _, err := sshsrv.New(uitest.New(), sshsrv.Options{HostKeyPath: c.SSH.HostKey, AuthorizedKeys: c.SSH.AuthorizedKeys}); err != nil {
		t.Fatalf("the SSH server refuses the lab's files: %v", err)
	}
}

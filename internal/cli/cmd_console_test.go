package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/config"
	"github.com/failback/failback/ui/uitest"
)

// The console serves watchers over SSH (lab up's does on the lab's
// port) with the [ssh] keys; its log, in the state folder's ssh.log since
// the terminal is the console's, says which key was refused and how to
// let it in.
func TestConsoleServesWatchersAndLogsToTheStateFolder(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := gossh.NewSignerFromKey(priv)
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key.PublicKey())))
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{StateDir: filepath.Join(dir, "state")}
	cfg.SSH.HostKey, cfg.SSH.AuthorizedKeys = filepath.Join(dir, "host_key"), keys
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	stop, err := serveWatchers(context.Background(), uitest.New(), cfg, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	dial := func() error {
		c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "watcher", Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
		if err == nil {
			c.Close()
		}
		return err
	}
	if dial() == nil {
		t.Fatal("a key not in the file got in")
	}
	time.Sleep(100 * time.Millisecond)
	if b, _ := os.ReadFile(filepath.Join(cfg.StateDir, "ssh.log")); !strings.Contains(string(b), "role=viewer "+line+" watcher") {
		t.Fatalf("ssh.log:\n%s", b)
	}
	if err := os.WriteFile(keys, []byte("role=viewer "+line+" watcher\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the file is read again when it changes
	if err := dial(); err != nil {
		t.Fatalf("the key added is refused: %v", err)
	}
}

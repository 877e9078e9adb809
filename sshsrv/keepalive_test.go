package sshsrv

import (
	"context"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/ui/uitest"
)

// quietServer serves fake with a short idle timeout; it returns the
// address and the server's log.
func quietServer(t *testing.T, o Options, keys string) (string, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	o.AuthorizedKeys = filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(o.AuthorizedKeys, []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	o.HostKeyPath = filepath.Join(dir, "host_key")
	logs := &syncBuffer{}
	o.Logger = log.New(logs, "", 0)
	srv, err := New(uitest.New(), o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = srv.Serve(ctx, l) }()
	t.Cleanup(cancel)
	return l.Addr().String(), logs
}

// A console nobody types in (a wall display) stays connected past the
// idle timeout: keepalives, not keystrokes, keep it alive. Without them
// the same session is dropped.
func TestWallDisplayOutlivesTheIdleTimeout(t *testing.T) {
	viewer := newSigner(t)
	keys := authLine("viewer", viewer, "wall@noc")
	for _, tc := range []struct {
		name      string
		keepAlive time.Duration
		alive     bool
	}{{"keepalives", 0, true}, {"none", -1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := quietServer(t, Options{IdleTimeout: 600 * time.Millisecond, KeepAlive: tc.keepAlive, Refresh: time.Hour}, keys)
			c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "wall", Auth: []gossh.AuthMethod{gossh.PublicKeys(viewer)},
				HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
				t.Fatal(err)
			}
			out, _ := sess.StdoutPipe()
			if err := sess.Shell(); err != nil {
				t.Fatal(err)
			}
			ended := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, out); close(ended) }()
			select {
			case <-ended:
				if tc.alive {
					t.Fatal("the quiet session was dropped despite keepalives")
				}
			case <-time.After(2 * time.Second): // more than three idle timeouts
				if !tc.alive {
					t.Fatal("without keepalives the idle session should have been dropped (the test proves nothing)")
				}
			}
		})
	}
}

// A refused key is logged with the line that would let it in.
func TestRefusedKeyIsLoggedWithTheLineToAdd(t *testing.T) {
	addr, logs := quietServer(t, Options{}, authLine("operator", newSigner(t), "alice@laptop"))
	stranger := newSigner(t)
	_, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "newcomer", Auth: []gossh.AuthMethod{gossh.PublicKeys(stranger)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err == nil {
		t.Fatal("an unknown key got in")
	}
	want := "role=viewer " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(stranger.PublicKey()))) + " newcomer"
	if l := logs.String(); !strings.Contains(l, "refused key ssh-ed25519 "+gossh.FingerprintSHA256(stranger.PublicKey())) || !strings.Contains(l, want) {
		t.Fatalf("log:\n%s\nwant the refusal and %q", l, want)
	}
}

//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/internal/cli"
)

// lockedBuffer is an output both a command and the test read.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve runs 'failback serve' on the lab's config on a free port until the
// test ends or stop is called; it returns the address and its log.
func serve(t *testing.T, cfg string) (addr string, log *lockedBuffer, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	log = &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"serve", "--config", cfg, "--listen", addr}, cli.Stdio{In: strings.NewReader(""), Out: io.Discard, Err: log})
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, log, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve does not listen on %s:\n%s", addr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sshIn logs in with key and waits for want on the console; it returns
// the host key the server showed.
func sshIn(t *testing.T, addr string, key gossh.Signer, want string) (gossh.PublicKey, error) {
	t.Helper()
	var host gossh.PublicKey
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "newcomer", Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: func(_ string, _ net.Addr, k gossh.PublicKey) error { host = k; return nil }, Timeout: 10 * time.Second})
	if err != nil {
		return host, err
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// TERM=dumb: the console asks no colour question before it draws.
	if err := sess.RequestPty("dumb", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	sess.Stdout = out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the console over SSH never showed %q:\n%s", want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return host, nil
}

// The README's SSH path, as a newcomer walks it: lab up says who may log
// in (nobody yet: no ~/.ssh key) and how to let a key in; the newcomer
// makes a key after lab up; serve refuses it, and logs the refusal with
// the line that would let it in; lab down refuses while serve drives the
// lab; lab up run again adds the key; ssh gets in. After lab down and
// lab up, the server shows the same host key, so ssh knows the lab.
func TestSSHNewcomerPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	m, up := labUp(t)
	for _, want := range []string{"No key may log in yet", "To let a key in, add a line", "ssh -t -p 2222 127.0.0.1"} {
		if !strings.Contains(up.out, want) {
			t.Errorf("lab up does not say %q:\n%s", want, up.out)
		}
	}
	cfg := m.Path(m.Config)

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key.PublicKey())))
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(pub+" newcomer@laptop\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	addr, log, stop := serve(t, cfg)
	if _, err := sshIn(t, addr, key, "failback"); err == nil {
		t.Fatal("a key the lab does not list got in")
	}
	if l := log.String(); !strings.Contains(l, "refused key ssh-ed25519 "+gossh.FingerprintSHA256(key.PublicKey())) || !strings.Contains(l, "role=viewer "+pub) {
		t.Fatalf("serve did not log the refused key with the line to add:\n%s", l)
	}
	if r := failback(t, "lab", "down", "--dir", m.Dir); r.code != 3 || !strings.Contains(r.err, "(failback serve) drives the lab's jobs") {
		t.Fatalf("lab down while serve drives the lab: exit %d\n%s", r.code, r.err)
	}

	again := mustFailback(t, "lab", "up", "--no-console", "--dir", m.Dir, "--disk-size", "64M")
	if !strings.Contains(again.out, "1 of your ~/.ssh keys just added") || !strings.Contains(again.out, gossh.FingerprintSHA256(key.PublicKey())+" newcomer@laptop") {
		t.Fatalf("lab up again does not let the new key in:\n%s", again.out)
	}
	host1, err := sshIn(t, addr, key, "newcomer@laptop (operator via ssh)")
	if err != nil {
		t.Fatalf("the key lab up added is refused: %v\n%s", err, log)
	}
	stop()

	mustFailback(t, "lab", "down", "--dir", m.Dir)
	m2, _ := labUp(t)
	addr2, _, _ := serve(t, m2.Path(m2.Config))
	host2, err := sshIn(t, addr2, key, "newcomer@laptop (operator via ssh)")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(host1.Marshal(), host2.Marshal()) {
		t.Fatalf("a new lab shows another host key (%s, was %s): ssh would warn of an attack", gossh.FingerprintSHA256(host2), gossh.FingerprintSHA256(host1))
	}
}

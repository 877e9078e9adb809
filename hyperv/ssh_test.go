package hyperv

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/internal/secret"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// fakeWindowsSSH is an in-process SSH server on loopback that behaves like
// Windows OpenSSH running PowerShell: it accepts only our command line,
// decodes -EncodedCommand (and the script on stdin behind the bootstrap),
// and answers with a recorded output.
type fakeWindowsSSH struct {
	t        *testing.T
	addr     string
	hostKey  ssh.Signer
	clientPK ssh.PublicKey
	password string
	answer   func(script string) (stdout, stderr string, exit uint32)

	mu       sync.Mutex
	scripts  []string
	dropNext bool // close the connection right after the next session
	dropMid  bool // close the connection instead of answering the next script
}

func newSigner(t *testing.T) (ssh.Signer, ed25519.PrivateKey) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

func startFakeWindowsSSH(t *testing.T, clientPK ssh.PublicKey, answer func(string) (string, string, uint32)) *fakeWindowsSSH {
	hostKey, _ := newSigner(t)
	s := &fakeWindowsSSH{t: t, hostKey: hostKey, clientPK: clientPK, password: "Pa$$w0rd 'x'", answer: answer}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == s.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if clientPK != nil && string(k.Marshal()) == string(clientPK.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c, cfg) }()
		}
	}()
	return s
}

func (s *fakeWindowsSSH) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		s.session(sc, ch, creqs)
		s.mu.Lock()
		drop := s.dropNext
		s.dropNext = false
		s.mu.Unlock()
		if drop {
			return
		}
	}
}

func (s *fakeWindowsSSH) session(sc *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var p struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &p); err != nil {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		stdout, stderr, code := s.run(ch, p.Command)
		s.mu.Lock()
		mid := s.dropMid
		s.dropMid = false
		s.mu.Unlock()
		if mid {
			sc.Close()
			return
		}
		io.WriteString(ch, stdout)
		io.WriteString(ch.Stderr(), stderr)
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
		return
	}
}

// run plays cmd.exe and PowerShell: anything but our command line is "not
// recognized", as cmd.exe would say.
func (s *fakeWindowsSSH) run(ch ssh.Channel, cmdline string) (string, string, uint32) {
	f := strings.Fields(cmdline)
	if len(f) != 5 || f[0] != "powershell" {
		return "", fmt.Sprintf("'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", f[0]), 1
	}
	var stdin []byte
	if first, err := decodeCommand(f[4]); err == nil && first == stdinBootstrap {
		stdin, _ = io.ReadAll(ch)
	}
	script, err := scriptFromInvocation(cmdline, stdin)
	if err != nil {
		return "", err.Error(), 1
	}
	s.mu.Lock()
	s.scripts = append(s.scripts, script)
	answer := s.answer
	s.mu.Unlock()
	return answer(script)
}

func (s *fakeWindowsSSH) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.scripts...)
}

// recordedAnswer answers each operation with its recorded output.
func recordedAnswer(script string) (string, string, uint32) {
	op, _, err := parseScript(script)
	if err != nil {
		return "Write-Output reached PowerShell\r\n", "", 0
	}
	files := map[string]string{"get-vm": "get-vm-web01", "list-switches": "list-switches"}
	b, err := os.ReadFile(filepath.Join("testdata", "outputs", files[op]+".json"))
	if err != nil {
		return "", err.Error(), 1
	}
	return string(b), "", 0
}

type sshFixture struct {
	srv        *fakeWindowsSSH
	keyFile    string
	knownHosts string
}

func newSSHFixture(t *testing.T) sshFixture {
	clientSigner, clientPriv := newSigner(t)
	srv := startFakeWindowsSSH(t, clientSigner.PublicKey(), recordedAnswer)
	dir := t.TempDir()
	block, err := ssh.MarshalPrivateKey(clientPriv, "failback test")
	if err != nil {
		t.Fatal(err)
	}
	f := sshFixture{srv: srv, keyFile: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts")}
	writeFile(t, f.keyFile, string(pem.EncodeToMemory(block)))
	writeFile(t, f.knownHosts, knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, srv.hostKey.PublicKey())+"\n")
	return f
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f sshFixture) runner(t *testing.T, mod func(*SSHConfig)) *SSHRunner {
	t.Helper()
	cfg := SSHConfig{Addr: f.srv.addr, User: "CONTOSO\\svc-failback", KeyFile: f.keyFile, KnownHostsFile: f.knownHosts, ConnectTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	r, err := NewSSHRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestSSHRunnerKeyAuthRunsScripts(t *testing.T) {
	f := newSSHFixture(t)
	r := f.runner(t, nil)
	h := NewPSHost("hv01", r)
	vm, err := h.GetVM(ctx, "web01")
	if err != nil {
		t.Fatal(err)
	}
	if vm.Name != "web01" || vm.State != StateRunning || len(vm.Disks) != 2 {
		t.Fatalf("VM over SSH: %+v", vm)
	}
	// A short script goes on the command line; both routes deliver the
	// exact text, on one kept connection.
	out, err := r.Run(ctx, "Write-Output 'hi'")
	if err != nil || out.ExitCode != 0 || !strings.Contains(string(out.Stdout), "reached PowerShell") {
		t.Fatalf("short script: %+v %v", out, err)
	}
	got := f.srv.received()
	want := buildScript("get-vm", []psParam{strParam("Name", "web01")})
	if len(got) != 2 || got[0] != want || got[1] != "Write-Output 'hi'" {
		t.Fatalf("the server received %d scripts; first matches: %v", len(got), len(got) > 0 && got[0] == want)
	}
	if len(encodeCommand(want)) < maxSSHCommandLine {
		t.Fatal("the get-vm script should be long enough to need the stdin route")
	}
}

func TestSSHRunnerPasswordAuth(t *testing.T) {
	f := newSSHFixture(t)
	r := f.runner(t, func(c *SSHConfig) { c.KeyFile = ""; c.Password = secret.New(f.srv.password) })
	if _, err := NewPSHost("hv01", r).ListSwitches(ctx); err != nil {
		t.Fatal(err)
	}
	// The runner, printed whole, shows neither the password nor the key's
	// passphrase (it keeps its config in an unexported field, where fmt
	// cannot call the Secret's methods).
	for _, out := range []string{fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r)} {
		if strings.Contains(out, f.srv.password) {
			t.Fatalf("the runner prints the password: %s", out)
		}
	}
	bad := f.runner(t, func(c *SSHConfig) { c.KeyFile = ""; c.Password = secret.New("wrong") })
	_, err := bad.Run(ctx, "Write-Output 1")
	if !errors.Is(err, ErrAccessDenied) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestSSHRunnerRefusesChangedHostKey(t *testing.T) {
	f := newSSHFixture(t)
	other, _ := newSigner(t)
	writeFile(t, f.knownHosts, knownhosts.Line([]string{knownhosts.Normalize(f.srv.addr)}, other.PublicKey())+"\n")
	_, err := f.runner(t, nil).Run(ctx, "Write-Output 1")
	fp := ssh.FingerprintSHA256(f.srv.hostKey.PublicKey())
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "MISMATCH") ||
		!strings.Contains(err.Error(), ssh.FingerprintSHA256(other.PublicKey())) || !strings.Contains(err.Error(), "ssh-keygen -R") {
		t.Fatalf("mismatch: %v", err)
	}
	if len(f.srv.received()) != 0 {
		t.Fatal("a script reached a host with the wrong key")
	}
}

func TestSSHRunnerRefusesUnknownHost(t *testing.T) {
	f := newSSHFixture(t)
	other, _ := newSigner(t)
	writeFile(t, f.knownHosts, knownhosts.Line([]string{"hv99.example.com"}, other.PublicKey())+"\n")
	_, err := f.runner(t, nil).Run(ctx, "Write-Output 1")
	line := knownhosts.Line([]string{knownhosts.Normalize(f.srv.addr)}, f.srv.hostKey.PublicKey())
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(f.srv.hostKey.PublicKey())) ||
		!strings.Contains(err.Error(), "not in "+f.knownHosts) || !strings.Contains(err.Error(), line) {
		t.Fatalf("unknown host: %v", err)
	}
}

func TestSSHRunnerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := newSSHFixture(t)
	r := f.runner(t, func(c *SSHConfig) { c.Addr = addr })
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = NewPSHost("hv01", r).GetVM(c, "web01")
	if !errors.Is(err, ErrUnreachable) || c.Err() != nil {
		t.Fatalf("closed port: %v (ctx %v)", err, c.Err())
	}
}

// TestSSHRunnerReconnectsAndHonoursContext: a dropped connection is
// redialled once, and a script that hangs ends with the context.
func TestSSHRunnerReconnectsAndHonoursContext(t *testing.T) {
	f := newSSHFixture(t)
	r := f.runner(t, nil)
	if _, err := r.Run(ctx, "Write-Output 1"); err != nil {
		t.Fatal(err)
	}
	f.srv.mu.Lock()
	f.srv.dropNext = true
	f.srv.mu.Unlock()
	if _, err := r.Run(ctx, "Write-Output 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, "Write-Output 3"); err != nil {
		t.Fatalf("after the server dropped the connection: %v", err)
	}
	f.srv.mu.Lock()
	f.srv.dropMid = true
	f.srv.mu.Unlock()
	if _, err := r.Run(ctx, "Write-Output 4"); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("connection lost mid-script: %v", err)
	}
	if _, err := r.Run(ctx, "Write-Output 5"); err != nil {
		t.Fatalf("after a connection lost mid-script: %v", err)
	}
	if n := len(f.srv.received()); n != 5 {
		t.Fatalf("the server ran %d scripts, want 5 (none run twice)", n)
	}
	release := make(chan struct{})
	defer close(release)
	f.srv.mu.Lock()
	f.srv.answer = func(string) (string, string, uint32) { <-release; return "", "", 0 }
	f.srv.mu.Unlock()
	c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := r.Run(c, "Start-Sleep 3600"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging script: %v", err)
	}
}

// TestSecretsAreRedacted: an SSHConfig's password and passphrase print as
// [redacted] however it is printed or encoded, also held in an unexported
// field of some other struct, where fmt cannot call the Secret's methods
// (a string-typed Secret printed raw there).
func TestSecretsAreRedacted(t *testing.T) {
	cfg := SSHConfig{Addr: "hv01.example.com", User: "admin", Password: secret.New("hunter2"), KeyPassphrase: secret.New("s3cret")}
	type holder struct {
		name string
		cfg  SSHConfig
		ptr  *SSHConfig
	}
	h := holder{name: "hv01", cfg: cfg, ptr: &cfg}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{string(b)}
	for _, v := range []any{cfg, &cfg, h, &h, []SSHConfig{cfg}, map[string]SSHConfig{"hv01": cfg}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
	}
	for _, s := range outs {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "s3cret") ||
			strings.Contains(s, fmt.Sprintf("%x", "hunter2")) || strings.Contains(s, fmt.Sprintf("%x", "s3cret")) {
			t.Fatalf("secret printed: %s", s)
		}
	}
	if !strings.Contains(string(b), `"Password":"[redacted]"`) {
		t.Fatalf("json: %s", b)
	}
	if cfg.Password.Reveal() != "hunter2" || cfg.KeyPassphrase.Reveal() != "s3cret" {
		t.Fatal("Reveal")
	}
}

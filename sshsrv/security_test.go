package sshsrv

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// syncBuffer is a log destination tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeKeys replaces the authorized-keys file, as an administrator would.
func (ts *testServer) writeKeys(lines ...string) {
	ts.t.Helper()
	if err := os.WriteFile(ts.keys, []byte(strings.Join(lines, "")), 0o600); err != nil {
		ts.t.Fatal(err)
	}
}

// waitLog waits for want in the server's log.
func (ts *testServer) waitLog(want string) {
	ts.t.Helper()
	waitUntil(ts.t, "the server to log "+want, func() bool { return strings.Contains(ts.logs.String(), want) })
}

// waitAny waits until one of want appears after from and returns it.
func (tm *term) waitAny(from int, want ...string) string {
	tm.t.Helper()
	if w := tm.waitAnyWithin(10*time.Second, from, want...); w != "" {
		return w
	}
	tm.t.Fatalf("waited 10s for one of %q; output:\n%q", want, tm.output()[from:])
	return ""
}

// waitAnyWithin is waitAny that answers "" when d passes first.
func (tm *term) waitAnyWithin(d time.Duration, from int, want ...string) string {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		out := tm.output()[from:]
		for _, w := range want {
			if strings.Contains(out, w) {
				return w
			}
		}
	}
	return ""
}

// Attack: an operator's key is demoted to viewer while her session is
// open (the old server fixed the role at login, for up to 30 idle
// minutes). Her next action in the same session is taken as a viewer's
// and refused; the job does not move.
func TestDemotedKeyNextActionRefusedInSameSession(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	for i := 0; i < 20 && f.Advance(id) != workflow.StateReady; i++ {
	}
	ts := newServer(t, f)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.String())
		}
	})
	tm := ts.open(ts.operator, 80, 24, nil, "[c] Complete failover")

	ts.writeKeys(authLine("viewer", ts.operator, "alice@laptop"), authLine("viewer", ts.viewer, "victor@jumpbox"))
	from := tm.mark()
	if _, err := tm.in.Write([]byte("c")); err != nil {
		t.Fatal(err)
	}
	if tm.waitAny(from, "Shut down the Azure VMs", "viewers cannot act") != "viewers cannot act" {
		// The console still showed her last view: she confirms.
		tm.press("y", "viewers cannot act")
	}
	if j, _ := f.Job(id); j.State != workflow.StateReady {
		t.Fatalf("a demoted key moved the job to %s", j.State)
	}
	for _, a := range f.Acts() {
		if a.Who.Role != workflow.RoleViewer {
			t.Fatalf("Act asked as %+v after the key was demoted", a.Who)
		}
	}
	// Promoted again, the same session may act: the file decides.
	// The console may still hold the viewer's action list for one
	// refresh (its status line then repeats and draws nothing new), so
	// the key is pressed until the confirmation opens.
	ts.writeKeys(authLine("operator", ts.operator, "alice@laptop"))
	for deadline := time.Now().Add(10 * time.Second); ; {
		from = tm.mark()
		if _, err := tm.in.Write([]byte("c")); err != nil {
			t.Fatal(err)
		}
		if tm.waitAnyWithin(time.Second, from, "Shut down the Azure VMs") != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the promoted key was never offered Complete failover; output:\n%q", tm.output()[from:])
		}
	}
	tm.press("y", "Complete failover accepted for "+id)
	if j, _ := f.Job(id); j.State == workflow.StateReady {
		t.Fatal("the promoted key's Complete failover did not move the job")
	}
}

// Attack: a key removed from the file keeps its open session. The
// session is closed within the key check interval, and the log says so.
func TestRemovedKeySessionIsClosed(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	ts := newServerWith(t, f, func(o *Options) { o.KeyCheck = 50 * time.Millisecond })
	tm := ts.open(ts.viewer, 80, 24, nil, "web01-os")
	ts.writeKeys(authLine("operator", ts.operator, "alice@laptop"))
	select {
	case <-tm.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the session of a removed key is still open")
	}
	ts.waitLog("closed the session of victor@jumpbox")
	if c, err := ts.dial(ts.viewer); err == nil {
		c.Close()
		t.Fatal("a removed key logged in again")
	}
}

// Attack: a job title and a log line carry terminal sequences (a window
// title change, colours, a clipboard write). A viewer's terminal gets
// them shown as text, never as sequences.
func TestEscapeSequencesInJobTextReachNoTerminal(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	f.Update(id, func(v *workflow.JobView) { v.Title = "web\x1b]0;owned\x07\x1b[31mRED" })
	f.Logf(id, "error", "PowerShell: \x1b]52;c;ZXZpbA==\x07 failed")
	ts := newServer(t, f)
	tm := ts.open(ts.viewer, 160, 40, nil, `web\x1b]0;owned`)
	tm.waitFor(0, `\x1b]52;c;`)
	out := tm.output()
	for _, raw := range []string{"\x1b]0;owned", "\x1b[31mRED", "\x1b]52;"} {
		if strings.Contains(out, raw) {
			t.Errorf("the terminal received %q", raw)
		}
	}
}

// Attack: keys offered by strangers, and a user name carrying an escape
// sequence. Each refusal is logged with the key's fingerprint, the
// address and the reason, the name made safe, and a flood of refusals
// is cut to refusalBurst lines.
func TestRefusedKeysAreLoggedRateLimited(t *testing.T) {
	ts := newServer(t, uitest.New())
	cfg := &gossh.ClientConfig{User: "evil\x1b]0;x\x07", Auth: []gossh.AuthMethod{gossh.PublicKeys(ts.stranger)},
		HostKeyCallback: gossh.FixedHostKey(ts.host), Timeout: 5 * time.Second}
	for range refusalBurst + 10 {
		if c, err := gossh.Dial("tcp", ts.addr, cfg); err == nil {
			c.Close()
			t.Fatal("a stranger's key got in")
		}
	}
	logs := ts.logs.String()
	want := "refused key ssh-ed25519 " + gossh.FingerprintSHA256(ts.stranger.PublicKey()) + " from 127.0.0.1:"
	if !strings.Contains(logs, want) || !strings.Contains(logs, `(user "evil\x1b]0;x\x07"): not in the authorized-keys file`) {
		t.Fatalf("no refusal line with fingerprint, address, safe user name and reason:\n%s", logs)
	}
	if strings.Contains(logs, "\x1b") {
		t.Error("an escape sequence reached the log")
	}
	if n := strings.Count(logs, "refused key "); n != refusalBurst {
		t.Errorf("%d refusal lines for %d attempts, want the limit %d", n, refusalBurst+10, refusalBurst)
	}
}

// Attack: the file says from= and expiry-time=; the old server ignored
// both and let the key in from anywhere, forever.
func TestFromAndExpiryAreHonoured(t *testing.T) {
	ts := newServer(t, uitest.New())
	key := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(ts.operator.PublicKey())))
	for _, c := range []struct{ opts, why string }{
		{`role=operator,from="10.0.0.0/8,192.168.*"`, `127.0.0.1 is not allowed by from="10.0.0.0/8,192.168.*"`},
		{`role=operator,from="127.0.0.*,!127.0.0.1"`, `127.0.0.1 is not allowed by from=`},
		{`role=operator,expiry-time="20200101Z"`, "expired at 2020-01-01T00:00:00Z"},
	} {
		ts.writeKeys(c.opts + " " + key + " alice\n")
		if cl, err := ts.dial(ts.operator); err == nil {
			cl.Close()
			t.Errorf("%s: the key got in", c.opts)
			continue
		}
		ts.waitLog(c.why)
	}
	ts.writeKeys(`role=operator,from="10.0.0.0/8,127.0.0.1",expiry-time="29991231" ` + key + " alice\n")
	cl, err := ts.dial(ts.operator)
	if err != nil {
		t.Fatalf("allowed address before expiry refused: %v", err)
	}
	cl.Close()
}

// A line with an option failback does not implement is refused, naming
// the option: at start the server does not start; in a reload only that
// line grants nothing. A world-writable file is warned about.
func TestUnimplementedOptionsRefusedAndWritableFileWarned(t *testing.T) {
	op := newSigner(t)
	key := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(op.PublicKey())))
	path := t.TempDir() + "/keys"
	if err := os.WriteFile(path, []byte(`role=operator,command="/bin/sh" `+key+" alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newKeyFile(path, nil); err == nil || !strings.Contains(err.Error(), "keys:1: option command is not implemented") {
		t.Fatalf("command= at start: %v", err)
	}

	ts := newServer(t, uitest.New())
	ts.writeKeys("role=viewer,no-pty "+strings.TrimSpace(string(gossh.MarshalAuthorizedKey(ts.viewer.PublicKey())))+" victor\n",
		authLine("operator", ts.operator, "alice@laptop"))
	if c, err := ts.dial(ts.viewer); err == nil {
		c.Close()
		t.Error("a line with no-pty still grants its key")
	}
	ts.waitLog("option no-pty is not implemented")
	if c, err := ts.dial(ts.operator); err != nil {
		t.Errorf("the good line beside a refused one: %v", err)
	} else {
		c.Close()
	}

	if err := os.Chmod(ts.keys, 0o666); err != nil {
		t.Fatal(err)
	}
	if c, err := ts.dial(ts.operator); err == nil {
		c.Close()
	}
	ts.waitLog("is writable by every user (mode 0666)")
}

package sshsrv

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

type testServer struct {
	t        *testing.T
	addr     string
	host     gossh.PublicKey
	fake     *uitest.Fake
	srv      *Server
	dir      string
	keys     string      // the authorized-keys file
	logs     *syncBuffer // the server's log
	operator gossh.Signer
	viewer   gossh.Signer
	stranger gossh.Signer
}

func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authLine(role string, s gossh.Signer, name string) string {
	return "role=" + role + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))) + " " + name + "\n"
}

// newServer runs a server on loopback over fake, with an operator key
// (alice) and a viewer key (victor) authorized.
func newServer(t *testing.T, fake *uitest.Fake) *testServer {
	t.Helper()
	return newServerWith(t, fake, nil)
}

// newServerWith is newServer with options changed by opt (nil: none);
// the server's log goes to ts.logs.
func newServerWith(t *testing.T, fake *uitest.Fake, opt func(*Options)) *testServer {
	t.Helper()
	ts := &testServer{t: t, fake: fake, dir: t.TempDir(), logs: &syncBuffer{},
		operator: newSigner(t), viewer: newSigner(t), stranger: newSigner(t)}
	ts.keys = filepath.Join(ts.dir, "authorized_keys")
	content := "# failback console access\n" +
		authLine("operator", ts.operator, "alice@laptop") +
		"\n" + authLine("viewer", ts.viewer, "victor@jumpbox")
	if err := os.WriteFile(ts.keys, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{
		HostKeyPath:    filepath.Join(ts.dir, "host", "ssh_host_ed25519_key"),
		AuthorizedKeys: ts.keys,
		Refresh:        20 * time.Millisecond,
		Logger:         log.New(ts.logs, "", 0),
	}
	if opt != nil {
		opt(&o)
	}
	srv, err := New(fake, o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	if len(srv.srv.HostSigners) == 0 {
		t.Fatal("the server has no host key")
	}
	ts.srv, ts.addr, ts.host = srv, l.Addr().String(), srv.srv.HostSigners[0].PublicKey() // the key clients pin
	return ts
}

func (ts *testServer) dial(s gossh.Signer) (*gossh.Client, error) {
	return gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{
		User:            "whoever",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(s)},
		HostKeyCallback: gossh.FixedHostKey(ts.host),
		Timeout:         5 * time.Second,
	})
}

// open starts a session with a PTY of w x h and waits for want.
func (ts *testServer) open(s gossh.Signer, w, h int, env map[string]string, want string) *term {
	t := ts.t
	t.Helper()
	c, err := ts.dial(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range env {
		if err := sess.Setenv(k, v); err != nil {
			t.Fatalf("setenv %s: %v", k, err)
		}
	}
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, client: c, sess: sess, in: in, done: make(chan struct{})}
	go tm.collect(out)
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	tm.waitFor(0, want)
	return tm
}

// waitUntil polls cond (state of the fake service) with a deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// walkWizard starts a web-shop failback with the defaults.
func walkWizard(tm *term) {
	tm.t.Helper()
	tm.press(kEnter, "FROM (source)")
	tm.press("y", "present on hv01.example.com")
	tm.press(kEnter, "Recommended:")
	tm.press(kEnter, "CN=failback DR 2025")
	tm.press(kEnter, "checks passed")
	tm.press(kEnter, "(nothing has moved yet)")
	tm.press(kEnter, "Started 250512-0900-01")
}

// An operator walks the wizard over SSH, watches the job in the monitor
// and completes the failover after confirming.
func TestOperatorStartsAndCompletesFailover(t *testing.T) {
	f := uitest.New()
	ts := newServer(t, f)
	tm := ts.open(ts.operator, 80, 24, nil, "Fail back what?")
	walkWizard(tm)
	for i := 0; i < 20 && f.Advance("250512-0900-01") != workflow.StateReady; i++ {
	}
	tm.waitFor(0, "[c] Complete failover")
	tm.press("c", "Shut down the Azure VMs")
	if n := f.Calls("Act"); n != 0 {
		t.Fatalf("Act called %d times before the confirmation", n)
	}
	tm.press("y", "Complete failover accepted for 250512-0900-01")

	alice := workflow.Actor{Name: "alice@laptop", Role: workflow.RoleOperator, Via: "ssh"}
	if st := f.Starts(); len(st) != 1 || st[0].Who != alice {
		t.Fatalf("Start calls %+v, want one by %+v", st, alice)
	}
	acts := f.Acts()
	if len(acts) != 1 || acts[0].Action != workflow.ActComplete || acts[0].ID != "250512-0900-01" || acts[0].Who != alice {
		t.Fatalf("Act calls %+v, want one Complete on 250512-0900-01 by %+v", acts, alice)
	}
	if j, _ := f.Job("250512-0900-01"); j.State != workflow.StateShutdown {
		t.Errorf("job state %s after Complete failover", j.State)
	}
}

// A viewer sees the job but every action is refused with the reason,
// and the service is never asked.
func TestViewerActionRefused(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	for i := 0; i < 20 && f.Advance(id) != workflow.StateReady; i++ {
	}
	ts := newServer(t, f)
	tm := ts.open(ts.viewer, 80, 24, nil, "viewers cannot act; ask an operator")
	tm.press("c", "Complete failover: viewers cannot act; ask an operator.")
	tm.waitFor(0, "victor@jumpbox (viewer via ssh)")
	// A viewer is offered no new failback, and n opens no wizard (whose
	// pre-flight would reach the hosts).
	tm.press("n")
	time.Sleep(200 * time.Millisecond) // a key of its own, not "nx" in one read
	tm.press("x", "Cancel: viewers cannot act; ask an operator.")
	if out := tm.output(); strings.Contains(out, "new failback") || strings.Contains(out, "Fail back what?") {
		t.Errorf("a viewer was offered a new failback:\n%s", out)
	}
	if n := f.Calls("Preflight") + f.Calls("CheckLocation"); n != 0 {
		t.Errorf("viewer: %d checks reached the hosts", n)
	}
	if n := f.Calls("Act"); n != 0 {
		t.Errorf("viewer: Act called %d times", n)
	}
	if n := f.Calls("Start"); n != 0 {
		t.Errorf("viewer: Start called %d times", n)
	}
}

// Keys not in the file, and passwords, are refused at authentication.
func TestUnknownKeyRejected(t *testing.T) {
	ts := newServer(t, uitest.New())
	if c, err := ts.dial(ts.stranger); err == nil {
		_ = c.Close()
		t.Fatal("a key not in the authorized-keys file got in")
	} else if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("unexpected error: %v", err)
	}
	_, err := gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{
		User: "alice", Auth: []gossh.AuthMethod{gossh.Password("hunter2")},
		HostKeyCallback: gossh.FixedHostKey(ts.host), Timeout: 5 * time.Second,
	})
	if err == nil {
		t.Fatal("password authentication was accepted")
	}
	// The authorized key still works: the refusals were about the keys.
	c, err := ts.dial(ts.operator)
	if err != nil {
		t.Fatalf("operator key refused: %v", err)
	}
	_ = c.Close()
}

// Two sessions watch the same job and both see it move.
func TestTwoSessionsSeeSameProgress(t *testing.T) {
	f := uitest.New()
	id := f.SeedRunning()
	ts := newServer(t, f)
	a := ts.open(ts.operator, 80, 24, nil, "web01-os")
	b := ts.open(ts.viewer, 120, 40, nil, "web01-os")
	ma, mb := a.mark(), b.mark()
	f.Advance(id)
	a.waitFor(ma, "moved 1.9 GiB")
	b.waitFor(mb, "1950 blk   1.9 GiB   400 MiB/s")
	ma, mb = a.mark(), b.mark()
	for i := 0; i < 20 && f.Advance(id) != workflow.StateReady; i++ {
	}
	a.waitFor(ma, "ready-to-complete")
	b.waitFor(mb, "ready-to-complete")
}

// A session dropped mid-sync leaves the job running, under a context
// that is still alive, and releases only its own subscription.
func TestDroppedSessionLeavesJobRunning(t *testing.T) {
	f := uitest.New()
	ts := newServer(t, f)
	tm := ts.open(ts.operator, 80, 24, nil, "Fail back what?")
	walkWizard(tm)
	f.Advance("250512-0900-01")
	tm.waitFor(0, "checksum")
	if n := f.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers with one session, want 1", n)
	}
	tm.drop()
	waitUntil(t, "the dropped session's subscription to end", func() bool { return f.Subscribers() == 0 })

	if err := f.Starts()[0].Ctx.Err(); err != nil {
		t.Errorf("the job's Start context ended with the session: %v", err)
	}
	for i := 0; i < 20 && f.Advance("250512-0900-01") != workflow.StateReady; i++ {
	}
	if j, _ := f.Job("250512-0900-01"); j.State != workflow.StateReady {
		t.Errorf("job stopped at %s after the session dropped", j.State)
	}
	if n := f.Calls("Act"); n != 0 {
		t.Errorf("dropping a session called Act %d times", n)
	}
	// Another session still sees it.
	ts.open(ts.viewer, 80, 24, nil, "ready-to-complete")
}

// Without a PTY the console explains what to do and exits 1.
func TestNoPTYIsTurnedAwayWithHint(t *testing.T) {
	ts := newServer(t, uitest.New())
	c, err := ts.dial(ts.operator)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("")
	var exit *gossh.ExitError
	if !asExit(err, &exit) || exit.ExitStatus() != 1 {
		t.Errorf("no-PTY session ended with %v, want exit status 1", err)
	}
	if !strings.Contains(string(out), "needs a terminal: connect with ssh -t") {
		t.Errorf("no hint in %q", out)
	}
}

// Each session renders with its own terminal's colour profile: NO_COLOR
// in one does not change the other.
func TestSessionsHaveOwnRenderers(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	ts := newServer(t, f)
	colour := ts.open(ts.operator, 80, 24, nil, "web01-os")
	plain := ts.open(ts.operator, 80, 24, map[string]string{"NO_COLOR": "1"}, "web01-os")
	if !strings.Contains(colour.output(), "\x1b[38;") {
		t.Error("a 256-colour session got no colours")
	}
	if strings.Contains(plain.output(), "\x1b[38;") {
		t.Error("the NO_COLOR session got colours")
	}
}

// A resized terminal gets the layout for its new size.
func TestSessionFollowsResize(t *testing.T) {
	f := uitest.New()
	f.SeedRunning()
	ts := newServer(t, f)
	tm := ts.open(ts.operator, 80, 24, nil, "web01-os")
	if strings.Contains(tm.output(), "DIFFERED") {
		t.Fatal("80 columns drew the wide disk table")
	}
	from := tm.mark()
	if err := tm.sess.WindowChange(40, 120); err != nil {
		t.Fatal(err)
	}
	tm.waitFor(from, "DIFFERED", "PROGRESS")
}

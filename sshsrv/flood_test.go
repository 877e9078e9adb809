package sshsrv

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/ssh"

	"github.com/failback/failback/ui/uitest"
)

// Attack: 500 half-open connections (TCP open, nothing sent) from the
// operator's own address, held. The old server kept every one for over
// 75 s and, with a low fd limit, a real login hung. Now the server holds
// at most the cap, the operator logs in within 2 s, every half-open
// connection is closed by the handshake deadline, and the operator's
// session, logged in, outlives that deadline.
func TestHalfOpenFloodCannotLockOutAnOperator(t *testing.T) {
	const flood = 500
	handshake := 1500 * time.Millisecond
	ts := newServerWith(t, uitest.New(), func(o *Options) { o.HandshakeTimeout = handshake })
	conns := make([]net.Conn, 0, flood)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range flood {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatalf("flood connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	waitUntil(t, "the server to take the whole flood", func() bool {
		w, d := ts.srv.guard.counts()
		return w+d >= flood
	})
	if w, d := ts.srv.guard.counts(); w > DefaultMaxPreAuthPerSource || d < flood-DefaultMaxPreAuthPerSource {
		t.Fatalf("%d connections wait to log in and %d were dropped: the per-source cap of %d does not hold", w, d, DefaultMaxPreAuthPerSource)
	}

	start := time.Now()
	tm := ts.open(ts.operator, 80, 24, nil, "Fail back what?")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the operator's login and first screen took %s under the flood", took)
	}

	// Every flood connection ends: dropped for room, or at the deadline.
	var closed atomic.Int32
	done := make(chan struct{})
	for _, c := range conns {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = c.SetReadDeadline(time.Now().Add(handshake + 5*time.Second))
			_, err := io.Copy(io.Discard, c)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				closed.Add(1)
			}
		}()
	}
	for range conns {
		<-done
	}
	if n := closed.Load(); n != flood {
		t.Fatalf("%d of %d half-open connections were still open %s after the handshake deadline", flood-n, flood, 5*time.Second)
	}
	// The operator, logged in, is not held to the handshake deadline.
	time.Sleep(time.Until(start.Add(handshake + 500*time.Millisecond)))
	tm.press("?", "quit")
}

// The guard alone: the per-source and overall caps drop the oldest
// waiting connection, never a logged-in one.
func TestGuardDropsOldestWaiting(t *testing.T) {
	g := newGuard(time.Minute, 3, 2)
	pipe := func(addr string) (*preAuthConn, net.Conn) {
		a, b := net.Pipe()
		return &preAuthConn{Conn: fakeAddr{a, addr}}, b
	}
	ctx := newTestCtx()
	var far []net.Conn
	add := func(addr string) *preAuthConn {
		p, other := pipe(addr)
		far = append(far, other)
		return g.accept(ctx, p.Conn).(*preAuthConn)
	}
	a1 := add("10.0.0.1:1")
	g.loggedIn(ctx) // a1 logged in: it leaves the guard
	a2 := add("10.0.0.1:2")
	_ = add("10.0.0.1:3")
	_ = add("10.0.0.1:4") // per-source cap 2: a2 (the oldest waiting) goes
	if a1.elem != nil || a2.elem != nil {
		t.Fatal("a logged-in connection was kept under the guard, or the oldest waiting was kept")
	}
	_ = add("10.0.0.2:1")
	_ = add("10.0.0.3:1") // overall cap 3
	if w, d := g.counts(); w != 3 || d != 2 {
		t.Fatalf("waiting %d, dropped %d; want 3 and 2", w, d)
	}
	for _, c := range far {
		c.Close()
	}
}

type fakeAddr struct {
	net.Conn
	addr string
}

func (f fakeAddr) RemoteAddr() net.Addr { return addrString(f.addr) }

type addrString string

func (a addrString) Network() string { return "tcp" }
func (a addrString) String() string  { return string(a) }

// testCtx is the part of ssh.Context the guard uses.
type testCtx struct {
	ssh.Context
	vals map[any]any
}

func newTestCtx() *testCtx           { return &testCtx{vals: map[any]any{}} }
func (c *testCtx) SetValue(k, v any) { c.vals[k] = v }
func (c *testCtx) Value(k any) any   { return c.vals[k] }

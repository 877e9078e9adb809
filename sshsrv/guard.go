package sshsrv

import (
	"container/list"
	"net"
	"sync"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Defaults of the limits on connections that have not logged in yet.
const (
	// DefaultHandshakeTimeout closes a connection that has not logged in
	// (key exchange and public-key proof) this long after it opened.
	DefaultHandshakeTimeout = 20 * time.Second
	// DefaultMaxPreAuth bounds connections not logged in yet, overall.
	DefaultMaxPreAuth = 64
	// DefaultMaxPreAuthPerSource bounds them per client address.
	DefaultMaxPreAuthPerSource = 8
)

// guard holds the connections that have not logged in yet. Each has a
// deadline (a timer closes it; wish's idle deadlines on the connection
// would overwrite one set there), and their number is capped overall and
// per source address: when a new connection would pass a cap, the oldest
// waiting connection (of that source, else overall) is closed to make
// room. A flood of half-open connections therefore costs the server at
// most the cap in sockets and goroutines, and cannot lock out a person
// who logs in: the newest connection always gets its turn, and finishes
// its handshake in milliseconds while the flood's oldest are dropped.
// A connection leaves the guard the moment its key is proved (the
// signature verified): logged-in users never count against the caps,
// are never dropped for them, and keep only the idle timeout.
type guard struct {
	timeout   time.Duration
	max       int
	perSource int

	mu       sync.Mutex
	waiting  list.List // *preAuthConn, oldest first
	bySource map[string]int
	dropped  int // closed to make room, since the start (tests, logs)
}

// preAuthConn is a connection under the guard.
type preAuthConn struct {
	net.Conn
	g     *guard
	src   string
	timer *time.Timer
	elem  *list.Element // nil once it left the guard
}

type guardKey struct{}

func newGuard(timeout time.Duration, max, perSource int) *guard {
	return &guard{timeout: timeout, max: max, perSource: perSource, bySource: map[string]int{}}
}

// accept is wish's ConnCallback: it puts c under the guard, making room.
func (g *guard) accept(ctx ssh.Context, c net.Conn) net.Conn {
	p := &preAuthConn{Conn: c, g: g, src: hostOf(c.RemoteAddr())}
	var evict []*preAuthConn
	g.mu.Lock()
	if g.bySource[p.src] >= g.perSource {
		for e := g.waiting.Front(); e != nil; e = e.Next() {
			if o := e.Value.(*preAuthConn); o.src == p.src {
				evict = append(evict, g.removeLocked(o))
				break
			}
		}
	}
	if g.waiting.Len() >= g.max {
		evict = append(evict, g.removeLocked(g.waiting.Front().Value.(*preAuthConn)))
	}
	g.dropped += len(evict)
	p.elem = g.waiting.PushBack(p)
	g.bySource[p.src]++
	p.timer = time.AfterFunc(g.timeout, p.expire)
	g.mu.Unlock()
	for _, o := range evict {
		_ = o.Conn.Close()
	}
	ctx.SetValue(guardKey{}, p)
	return p
}

// removeLocked takes p out of the guard; call with g.mu held.
func (g *guard) removeLocked(p *preAuthConn) *preAuthConn {
	if p.elem == nil {
		return p
	}
	g.waiting.Remove(p.elem)
	p.elem = nil
	p.timer.Stop()
	if g.bySource[p.src]--; g.bySource[p.src] <= 0 {
		delete(g.bySource, p.src)
	}
	return p
}

// loggedIn releases ctx's connection from the guard: its key is proved.
func (g *guard) loggedIn(ctx ssh.Context) {
	if p, ok := ctx.Value(guardKey{}).(*preAuthConn); ok {
		g.mu.Lock()
		g.removeLocked(p)
		g.mu.Unlock()
	}
}

// expire closes a connection still not logged in at its deadline.
func (p *preAuthConn) expire() {
	p.g.mu.Lock()
	waiting := p.elem != nil
	p.g.removeLocked(p)
	p.g.mu.Unlock()
	if waiting {
		_ = p.Conn.Close()
	}
}

// Close closes the connection and takes it out of the guard.
func (p *preAuthConn) Close() error {
	p.g.mu.Lock()
	p.g.removeLocked(p)
	p.g.mu.Unlock()
	return p.Conn.Close()
}

// counts says how many connections wait and how many were dropped.
func (g *guard) counts() (waiting, dropped int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting.Len(), g.dropped
}

// serverConfig is wish's ServerConfigCallback: a connection leaves the
// guard when its public key is verified (not when a key is merely
// offered: anyone can offer a public key).
func (g *guard) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	return &gossh.ServerConfig{
		VerifiedPublicKeyCallback: func(_ gossh.ConnMetadata, _ gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			g.loggedIn(ctx)
			return perms, nil
		},
	}
}

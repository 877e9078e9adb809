package mover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Transport starts a mover on a host: a child process, a command over
// SSH, or a server in this process (tests).
type Transport interface {
	Start(ctx context.Context) (Session, error)
	// Describe says how the mover is reached, for messages.
	Describe() string
}

// Session is one running mover: its output, its input, and its end.
type Session interface {
	io.Reader // the mover's standard output
	io.Writer // its standard input
	// Close ends the session: the mover's input closes (it stops its calls,
	// their journals durable, and exits), and whatever remains is ended.
	Close() error
	// Stderr is the end of what the mover printed on its standard error,
	// for messages when it fails.
	Stderr() string
}

// ErrLost: the mover's session ended while calls were running (the SSH
// connection dropped, the mover was killed). The journals on the host are
// intact: the next call starts a new mover, which resumes or rolls back.
var ErrLost = errors.New("the mover's session ended")

// ErrMismatch: the mover on the host is not the build this driver
// expects; the error says the command that installs the right one.
var ErrMismatch = errors.New("the mover on the host is another build")

// ClientOptions say which mover a Client accepts.
type ClientOptions struct {
	// Host names the host in messages.
	Host string
	// Build, when set, is the build the mover must report (the driver's
	// own, for a mover it installed). SHA256, when set, is the hash its
	// program file must have.
	Build, SHA256 string
	// Fix is the command that installs the right mover, for refusals
	// ("failback mover install --host hv01").
	Fix string
	// CancelWait bounds the wait for a cancelled call to stop on the host
	// before the session is ended (default 2 minutes).
	CancelWait time.Duration
	// MaxMoves bounds the calls that move or read a disk (sync, verify,
	// rollback, changed, send) running at once on the host, whatever job
	// makes them (0: no bound). The others wait their turn.
	MaxMoves int
}

// Client drives the mover of one host. It starts the mover at the first
// call and again after a session was lost; calls run in parallel over
// one session. It is safe for concurrent use.
type Client struct {
	tr    Transport
	o     ClientOptions
	moves chan struct{} // MaxMoves slots (nil: no bound)

	mu   sync.Mutex
	conn *conn
}

// NewClient drives the mover tr starts.
func NewClient(tr Transport, o ClientOptions) *Client {
	if o.CancelWait <= 0 {
		o.CancelWait = 2 * time.Minute
	}
	c := &Client{tr: tr, o: o}
	if o.MaxMoves > 0 {
		c.moves = make(chan struct{}, o.MaxMoves)
	}
	return c
}

// reserved marks a context whose holder took one of c's turns.
type reserved struct{ c *Client }

// Reserve takes one of the host's MaxMoves turns for a whole operation
// of several calls (a pass: its snapshot, then its sync): the calls made
// with the context it returns use that turn instead of waiting for
// another. release gives it back.
func (c *Client) Reserve(ctx context.Context) (context.Context, func(), error) {
	release, err := c.move(ctx)
	if err != nil {
		return ctx, nil, err
	}
	return context.WithValue(ctx, reserved{c}, true), release, nil
}

// move takes one of the host's MaxMoves slots for a call that moves or
// reads a disk (none when ctx holds one: Reserve); release gives it back.
func (c *Client) move(ctx context.Context) (release func(), err error) {
	if c.moves == nil || ctx.Value(reserved{c}) != nil {
		return func() {}, nil
	}
	select {
	case c.moves <- struct{}{}:
		return func() { <-c.moves }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Describe says which host's mover and how it is reached.
func (c *Client) Describe() string { return "mover on " + c.o.Host + " (" + c.tr.Describe() + ")" }

// Close ends the mover's session, if one runs.
func (c *Client) Close() error {
	c.mu.Lock()
	cn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	return cn.close(nil)
}

// Hello starts the mover if needed and says what it reported.
func (c *Client) Hello(ctx context.Context) (Hello, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return Hello{}, err
	}
	return cn.hello, nil
}

// conn is one session with a mover.
type conn struct {
	c     *Client
	sess  Session
	out   *writer
	hello Hello

	mu    sync.Mutex
	next  uint64
	calls map[uint64]*pending
	dead  chan struct{}
	err   error
}

// pending is a call waiting for its result.
type pending struct {
	h    handlers
	done chan frame
}

// handlers are what a call does with what the mover sends before its
// result. Each runs on the session's reader: it must be quick.
type handlers struct {
	progress func(json.RawMessage)
	log      func(logLine)
	// renew answers a renewal ask (it may block: it runs apart).
	renew func(ctx context.Context, force bool) (access, error)
}

// connect returns the live session, starting a mover when there is none.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		select {
		case <-c.conn.dead:
			c.conn = nil
		default:
			return c.conn, nil
		}
	}
	sess, err := c.tr.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: start: %w", c.Describe(), err)
	}
	cn := &conn{c: c, sess: sess, out: &writer{w: sess}, calls: map[uint64]*pending{}, dead: make(chan struct{})}
	hello, r, err := cn.greet(ctx)
	if err != nil {
		_ = sess.Close()
		if tail := sess.Stderr(); tail != "" {
			err = fmt.Errorf("%w; it said on stderr: %q", err, quote(tail))
		}
		return nil, fmt.Errorf("%s: %w", c.Describe(), err)
	}
	cn.hello = hello
	go cn.read(r)
	c.conn = cn
	return cn, nil
}

// greet reads the mover's greeting and hello, checks them, and says
// hello back. The whole exchange is bounded by ctx.
func (cn *conn) greet(ctx context.Context) (Hello, *reader, error) {
	type got struct {
		h   Hello
		err error
	}
	r := newReader(cn.sess)
	ch := make(chan got, 1)
	go func() {
		v, err := r.readMagic()
		if err != nil {
			ch <- got{err: err}
			return
		}
		if v != ProtocolVersion {
			ch <- got{err: fmt.Errorf("%w: it speaks mover protocol %d, this failback %d", ErrMismatch, v, ProtocolVersion)}
			return
		}
		f, err := r.next()
		var h Hello
		if err == nil && (f.Kind != kindHello || json.Unmarshal(f.Body, &h) != nil) {
			err = fmt.Errorf("%w: the mover did not say hello first", ErrProtocol)
		}
		ch <- got{h: h, err: err}
	}()
	var g got
	select {
	case g = <-ch:
	case <-ctx.Done():
		_ = cn.sess.Close()
		return Hello{}, nil, ctx.Err()
	}
	if g.err != nil {
		return Hello{}, nil, cn.c.refusal(g.err)
	}
	o := cn.c.o
	switch {
	case o.Build != "" && g.h.Build != o.Build:
		return Hello{}, nil, cn.c.refusal(fmt.Errorf("%w: it is build %q, this failback %q", ErrMismatch, g.h.Build, o.Build))
	case o.SHA256 != "" && g.h.SHA256 != o.SHA256:
		return Hello{}, nil, cn.c.refusal(fmt.Errorf("%w: its program %s has SHA-256 %s, the build installed has %s", ErrMismatch, g.h.Exe, short(g.h.SHA256), short(o.SHA256)))
	}
	if err := cn.out.sendBody(frame{Kind: kindHello}, Hello{Protocol: ProtocolVersion, Build: Build()}); err != nil {
		return Hello{}, nil, err
	}
	return g.h, r, nil
}

// refusal adds the fixing command to a mismatch.
func (c *Client) refusal(err error) error {
	if c.o.Fix != "" && (errors.Is(err, ErrMismatch) || errors.Is(err, ErrNotMover)) {
		return fmt.Errorf("%w; install this failback's mover there: %s", err, c.o.Fix)
	}
	return err
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "..."
	}
	return h
}

// read dispatches the mover's frames until the session ends.
func (cn *conn) read(r *reader) {
	for {
		f, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			_ = cn.close(err)
			return
		}
		cn.mu.Lock()
		p := cn.calls[f.ID]
		cn.mu.Unlock()
		if p == nil {
			continue // a call given up on (cancelled past CancelWait)
		}
		switch f.Kind {
		case kindResult:
			p.done <- f
		case kindProgress:
			if p.h.progress != nil {
				p.h.progress(f.Body)
			}
		case kindLog:
			var l logLine
			if p.h.log != nil && json.Unmarshal(f.Body, &l) == nil {
				p.h.log(l)
			}
		case kindAsk:
			go cn.answer(p, f)
		}
	}
}

// answer answers an ask of call p.
func (cn *conn) answer(p *pending, f frame) {
	var q renewAsk
	out := frame{Kind: kindAnswer, ID: f.ID, Ask: f.Ask}
	if err := json.Unmarshal(f.Body, &q); err != nil || q.What != askRenew || p.h.renew == nil {
		out.Err = toWire(fmt.Errorf("%w: an ask this driver cannot answer", ErrProtocol))
		_ = cn.out.send(out)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, err := p.h.renew(ctx, q.Force)
	if err != nil {
		out.Err = toWire(err)
		_ = cn.out.send(out)
		return
	}
	_ = cn.out.sendBody(out, a)
}

// close ends the session; err says why calls still running fail.
func (cn *conn) close(err error) error {
	cn.mu.Lock()
	select {
	case <-cn.dead:
		cn.mu.Unlock()
		return nil
	default:
	}
	if err == nil {
		err = errors.New("closed by the driver")
	}
	cn.err = err
	close(cn.dead)
	cn.mu.Unlock()
	return cn.sess.Close()
}

// lost is the error of a call whose session ended.
func (cn *conn) lost() error {
	msg := fmt.Sprintf("%s: %v", cn.c.Describe(), ErrLost)
	if cn.err != nil {
		msg += " (" + cn.err.Error() + ")"
	}
	if tail := cn.sess.Stderr(); tail != "" {
		msg += "; it said on stderr: " + quote(tail)
	}
	return &remoteError{msg: msg + "; the host's journals are intact: resume the job to go on from them", kind: ErrLost}
}

// call runs op on the mover: body goes, out (if not nil) receives the
// result's body, also when the call failed. Cancelling ctx cancels the
// call on the host and waits (up to CancelWait) until it has stopped
// there, so its journals and locks are let go before this returns.
func (c *Client) call(ctx context.Context, op string, body, out any, h handlers) error {
	cn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%w: encode %s: %v", ErrProtocol, op, err)
	}
	p := &pending{h: h, done: make(chan frame, 1)}
	cn.mu.Lock()
	cn.next++
	id := cn.next
	cn.calls[id] = p
	cn.mu.Unlock()
	defer func() {
		cn.mu.Lock()
		delete(cn.calls, id)
		cn.mu.Unlock()
	}()
	if err := cn.out.send(frame{Kind: kindCall, ID: id, Op: op, Body: b}); err != nil {
		_ = cn.close(err)
		return cn.lost()
	}
	var res frame
	select {
	case res = <-p.done:
	case <-cn.dead:
		return cn.lost()
	case <-ctx.Done():
		_ = cn.out.send(frame{Kind: kindCancel, ID: id})
		t := time.NewTimer(c.o.CancelWait)
		defer t.Stop()
		select {
		case <-p.done:
		case <-cn.dead:
		case <-t.C:
			// The host does not answer: end the session, which ends the
			// mover and with it whatever it held.
			_ = cn.close(fmt.Errorf("a cancelled %s call did not stop within %s", op, c.o.CancelWait))
		}
		return ctx.Err()
	}
	if out != nil && len(res.Body) > 0 {
		if err := json.Unmarshal(res.Body, out); err != nil {
			return fmt.Errorf("%w: the result of %s: %v", ErrProtocol, op, err)
		}
	}
	return fromWire(res.Err)
}

package mover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/osfile"
)

// ServerOptions say where the mover keeps its state.
type ServerOptions struct {
	// StateDir is the host's state folder (journals, sums, disk locks).
	StateDir string
	// Build names this build in the hello (default: Build()).
	Build string
	// Exe and SHA256 are the mover's program file and its hash, said in
	// the hello so the driver can check it runs the build it installed.
	Exe, SHA256 string
	// Errors gets the mover's own trouble (stderr): never a frame, never a
	// URL or a key.
	Errors io.Writer
	// Transport replaces the HTTP client of its Azure reads and writes
	// (tests count what crosses with it).
	Transport policy.Transporter
	// Space replaces the measure of the state folder's volume (tests).
	Space func(folder string) (hyperv.Space, error)
}

// server is one mover session: the calls of one driver.
type server struct {
	o   ServerOptions
	l   layout
	out *writer

	mu    sync.Mutex
	calls map[uint64]*call
	wg    sync.WaitGroup
	// limits are the adaptive limits of every Azure blob and storage
	// account the session's calls reach (made by the first).
	limitsMu sync.Mutex
	limits   *azure.Limits
}

// call is one call running on the mover.
type call struct {
	s      *server
	id     uint64
	cancel context.CancelFunc

	mu    sync.Mutex
	next  uint64
	asked map[uint64]chan frame
}

// Serve speaks the protocol on in and out until in ends (the driver
// closed the session, or it was lost): then every call still running is
// cancelled, and Serve returns once they have stopped, their journals
// durable. A driver speaking another protocol is refused.
func Serve(ctx context.Context, in io.Reader, out io.Writer, o ServerOptions) error {
	if o.Build == "" {
		o.Build = Build()
	}
	if o.StateDir == "" {
		return errors.New("mover: no state folder")
	}
	if err := mkdirPrivate(o.StateDir); err != nil {
		return fmt.Errorf("mover: state folder: %w", err)
	}
	// As the driver's: a folder made looser by hand is tightened.
	if _, err := osfile.TightenDir(o.StateDir); err != nil {
		return fmt.Errorf("mover: state folder %s: make it private (mode 0700): %w", o.StateDir, err)
	}
	s := &server{o: o, l: layout{root: o.StateDir}, out: &writer{w: out}, calls: map[uint64]*call{}}
	if err := writeMagic(out); err != nil {
		return err
	}
	hello := Hello{Protocol: ProtocolVersion, Build: o.Build, OS: runtime.GOOS, Arch: runtime.GOARCH,
		Exe: o.Exe, SHA256: o.SHA256, StateDir: o.StateDir, PID: os.Getpid()}
	if err := s.out.sendBody(frame{Kind: kindHello}, hello); err != nil {
		return err
	}
	r := newReader(in)
	first, err := r.next()
	if err != nil {
		return fmt.Errorf("mover: the driver's hello: %w", err)
	}
	var theirs Hello
	if first.Kind != kindHello || json.Unmarshal(first.Body, &theirs) != nil {
		return fmt.Errorf("%w: the driver did not say hello first", ErrProtocol)
	}
	if theirs.Protocol != ProtocolVersion {
		return fmt.Errorf("%w: the driver speaks protocol %d, this mover %d", ErrProtocol, theirs.Protocol, ProtocolVersion)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		s.wg.Wait()
	}()
	for {
		f, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("mover: reading from the driver: %w", err)
		}
		switch f.Kind {
		case kindCall:
			s.start(ctx, f)
		case kindCancel:
			s.mu.Lock()
			if c := s.calls[f.ID]; c != nil {
				c.cancel()
			}
			s.mu.Unlock()
		case kindAnswer:
			s.mu.Lock()
			c := s.calls[f.ID]
			s.mu.Unlock()
			if c != nil {
				c.answer(f)
			}
		default:
			return fmt.Errorf("%w: a %q frame from the driver", ErrProtocol, f.Kind)
		}
	}
}

// start runs a call in a goroutine of its own.
func (s *server) start(ctx context.Context, f frame) {
	ctx, cancel := context.WithCancel(ctx)
	c := &call{s: s, id: f.ID, cancel: cancel, asked: map[uint64]chan frame{}}
	s.mu.Lock()
	if s.calls[f.ID] != nil {
		s.mu.Unlock()
		cancel()
		_ = s.out.send(frame{Kind: kindResult, ID: f.ID, Err: toWire(fmt.Errorf("%w: call %d is running already", ErrProtocol, f.ID))})
		return
	}
	s.calls[f.ID] = c
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		res, err := s.dispatch(ctx, c, f.Op, f.Body)
		s.mu.Lock()
		delete(s.calls, f.ID)
		s.mu.Unlock()
		out := frame{Kind: kindResult, ID: f.ID, Err: toWire(err)}
		if res != nil {
			if b, merr := json.Marshal(res); merr == nil {
				out.Body = b
			}
		}
		if err := s.out.send(out); err != nil && s.o.Errors != nil {
			fmt.Fprintf(s.o.Errors, "mover: the result of call %d (%s) could not be sent: %v\n", f.ID, f.Op, err)
		}
	}()
}

// progress sends a sample of the engine's progress.
func (c *call) progress(v any) { _ = c.s.out.sendBody(frame{Kind: kindProgress, ID: c.id}, v) }

// ask puts a question to the driver within the call and decodes its
// answer into out.
func (c *call) ask(ctx context.Context, body, out any) error {
	ch := make(chan frame, 1)
	c.mu.Lock()
	c.next++
	n := c.next
	c.asked[n] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.asked, n)
		c.mu.Unlock()
	}()
	if err := c.s.out.sendBody(frame{Kind: kindAsk, ID: c.id, Ask: n}, body); err != nil {
		return err
	}
	select {
	case f := <-ch:
		if f.Err != nil {
			return fromWire(f.Err)
		}
		return json.Unmarshal(f.Body, out)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *call) answer(f frame) {
	c.mu.Lock()
	ch := c.asked[f.Ask]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- f:
		default:
		}
	}
}

// dispatch runs one op.
func (s *server) dispatch(ctx context.Context, c *call, op string, body json.RawMessage) (any, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(body, v); err != nil {
			return fmt.Errorf("%w: the body of %s: %v", ErrProtocol, op, err)
		}
		return nil
	}
	switch op {
	case opInspect:
		var req inspectCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return s.inspect(req), nil
	case opSync:
		var req syncCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return s.sync(ctx, c, req)
	case opVerify:
		var req verifyCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return s.verify(ctx, c, req)
	case opJournals:
		var req passCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return s.journals(req)
	case opRollback:
		var req passCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return s.rollback(ctx, c, req)
	case opDiscard:
		var req passCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return nil, s.discard(req)
	case opForget:
		var req passCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return nil, s.forget(req)
	case opChanged:
		var req changedCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return s.changed(ctx, c, req)
	case opReach:
		var req Source
		if err := decode(&req); err != nil {
			return nil, err
		}
		return nil, s.reach(ctx, c, req)
	case opMakeTest:
		var req TestDisk
		if err := decode(&req); err != nil {
			return nil, err
		}
		return nil, MakeTestDisk(ctx, req)
	case opRemoveTest:
		var req TestDisk
		if err := decode(&req); err != nil {
			return nil, err
		}
		return nil, RemoveTestDisk(req)
	case opTestFolder:
		var req TestDisk
		if err := decode(&req); err != nil {
			return nil, err
		}
		return nil, RemoveTestFolder(req.Folder, req.Folder)
	case opReachAgent:
		var req Agent
		if err := decode(&req); err != nil {
			return nil, err
		}
		return nil, reachAgent(ctx, req)
	case opSpace:
		return s.space()
	case opSend:
		var req sendCall
		if err := decode(&req); err != nil {
			return nil, err
		}
		return s.send(ctx, c, req)
	}
	return nil, fmt.Errorf("%w: this mover has no call %q (the driver is newer: install the driver's build on the host)", ErrProtocol, op)
}

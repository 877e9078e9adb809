package mover

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/failback/failback/internal/tail"
)

// Command starts the mover as a child process: a lab host, or a driver
// that runs on the Hyper-V host itself. name and args are the command
// line ("/usr/local/bin/failback", "mover", "--state-dir", ...).
func Command(name string, args ...string) Transport { return &command{name: name, args: args} }

type command struct {
	name string
	args []string
}

func (c *command) Describe() string {
	return "child process " + strings.Join(append([]string{c.name}, c.args...), " ")
}

func (c *command) Start(context.Context) (Session, error) {
	// Not tied to the call's context: the session outlives the call that
	// started it. Close ends it.
	cmd := exec.Command(c.name, c.args...)
	s := &procSession{cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = &s.stderr
	var err error
	if s.w, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if s.r, err = cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// procSession is a child process mover.
type procSession struct {
	cmd    *exec.Cmd
	r      io.ReadCloser
	w      io.WriteCloser
	stderr tail.Buffer
	exited chan struct{}
	once   sync.Once
}

func (s *procSession) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *procSession) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *procSession) Stderr() string              { return s.stderr.String() }

// stopWait is how long a mover has to stop its calls and exit once its
// input closed, before it is killed.
const stopWait = 30 * time.Second

// Close closes the mover's input, so it stops its calls and exits, and
// kills it if it has not within stopWait.
func (s *procSession) Close() error {
	s.once.Do(func() {
		_ = s.w.Close()
		select {
		case <-s.exited:
		case <-time.After(stopWait):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
	return nil
}

// Pipe runs a mover server in this process, over pipes: the same
// protocol, for tests and drills inside Go tests.
func Pipe(o ServerOptions) *PipeTransport { return &PipeTransport{o: o} }

// PipeTransport is Pipe's transport. Drop ends its sessions abruptly, as
// a lost SSH connection does.
type PipeTransport struct {
	o ServerOptions

	mu       sync.Mutex
	sessions []*pipeSession
	started  int
}

// Describe names it.
func (p *PipeTransport) Describe() string { return "in-process mover" }

// Started counts the sessions started.
func (p *PipeTransport) Started() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// Start starts a server on a pair of pipes.
func (p *PipeTransport) Start(ctx context.Context) (Session, error) {
	toMover, fromDriver := io.Pipe()
	fromMover, toDriver := io.Pipe()
	s := &pipeSession{r: fromMover, w: fromDriver, toDriver: toDriver, toMover: toMover, done: make(chan struct{})}
	o := p.o
	o.Errors = &s.stderr
	go func() {
		defer close(s.done)
		err := Serve(context.WithoutCancel(ctx), toMover, toDriver, o)
		if err != nil {
			_, _ = io.WriteString(&s.stderr, err.Error())
		}
		_ = toDriver.CloseWithError(errors.New("the mover exited"))
	}()
	p.mu.Lock()
	p.sessions = append(p.sessions, s)
	p.started++
	p.mu.Unlock()
	return s, nil
}

// Drop ends every session at once, both ways, as a dropped connection
// does; the servers see their input end and stop their calls.
func (p *PipeTransport) Drop() {
	p.mu.Lock()
	ss := p.sessions
	p.sessions = nil
	p.mu.Unlock()
	for _, s := range ss {
		s.drop()
	}
}

type pipeSession struct {
	r        *io.PipeReader
	w        *io.PipeWriter
	toDriver *io.PipeWriter
	toMover  *io.PipeReader
	stderr   tail.Buffer
	done     chan struct{}
	once     sync.Once
}

func (s *pipeSession) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *pipeSession) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *pipeSession) Stderr() string              { return s.stderr.String() }

// Close closes the mover's input and waits for it to stop its calls.
func (s *pipeSession) Close() error {
	s.once.Do(func() {
		_ = s.w.Close()
		go func() { _, _ = io.Copy(io.Discard, s.r) }() // the server's last frames
		<-s.done
	})
	return nil
}

func (s *pipeSession) drop() {
	lost := errors.New("connection lost")
	_ = s.w.CloseWithError(lost)
	_ = s.toMover.CloseWithError(lost)
	_ = s.r.CloseWithError(lost)
	_ = s.toDriver.CloseWithError(lost)
}

package hyperv

import (
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/failback/failback/internal/tail"
	"golang.org/x/crypto/ssh"
)

// SSHStream is a program running on the host in an SSH session of the
// runner's connection, with its standard streams (the mover: frames on
// stdin and stdout). Closing it closes the program's input, waits a while
// for it to end, then ends the session.
type SSHStream struct {
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout io.Reader
	stderr tail.Buffer
	done   chan struct{}
	once   sync.Once
}

// Start runs cmdline on the host (through its login shell: cmd.exe on a
// Windows OpenSSH server) in a session of its own. The session does not
// end with ctx: Close ends it.
func (r *SSHRunner) Start(ctx context.Context, cmdline string) (*SSHStream, error) {
	for attempt := 0; ; attempt++ {
		client, fresh, err := r.connect(ctx)
		if err != nil {
			return nil, err
		}
		sess, err := client.NewSession()
		if err != nil {
			r.drop(client)
			if !fresh && attempt == 0 {
				continue // the kept connection had died: dial again once
			}
			return nil, r.unreachable("open an SSH session", err)
		}
		s := &SSHStream{sess: sess, done: make(chan struct{})}
		sess.Stderr = &s.stderr
		if s.stdin, err = sess.StdinPipe(); err == nil {
			s.stdout, err = sess.StdoutPipe()
		}
		if err == nil {
			err = sess.Start(cmdline)
		}
		if err != nil {
			sess.Close()
			return nil, r.unreachable("start "+firstWord(cmdline), err)
		}
		go func() {
			_ = sess.Wait()
			close(s.done)
		}()
		return s, nil
	}
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

func (s *SSHStream) Read(p []byte) (int, error)  { return s.stdout.Read(p) }
func (s *SSHStream) Write(p []byte) (int, error) { return s.stdin.Write(p) }

// Stderr is the end of what the program printed on its standard error.
func (s *SSHStream) Stderr() string { return s.stderr.String() }

// streamStopWait is how long a program has to end once its input closed.
const streamStopWait = 30 * time.Second

// Close closes the program's input, and ends the session when the
// program has not ended within a while.
func (s *SSHStream) Close() error {
	s.once.Do(func() {
		_ = s.stdin.Close()
		select {
		case <-s.done:
		case <-time.After(streamStopWait):
		}
		_ = s.sess.Close()
	})
	return nil
}

// Done is closed when the program has ended (or the session was lost).
func (s *SSHStream) Done() <-chan struct{} { return s.done }

package sshsrv

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/internal/safetext"
)

// Keepalives: a console on a wall display shows every change but sends
// nothing, and a quiet night has no changes, so the connection's idle
// timeout would drop it. The server asks the client for a keepalive
// reply (as OpenSSH's ServerAliveInterval does, from this side) well
// within the idle timeout; the request and its answer are traffic, so a
// live client is never idle, while a client that is gone stops answering
// and its session ends after a few unanswered requests.

// DefaultKeepAlive spaces the keepalive requests (never more than a
// third of the idle timeout).
const DefaultKeepAlive = time.Minute

// keepAliveMisses is how many keepalives in a row may go unanswered.
const keepAliveMisses = 3

// keepAliveEvery is the interval for the options: 0 when off.
func (o Options) keepAliveEvery() time.Duration {
	every := o.KeepAlive
	switch {
	case every < 0:
		return 0
	case every == 0:
		every = DefaultKeepAlive
	}
	if o.IdleTimeout > 0 {
		every = min(every, o.IdleTimeout/3)
	}
	return every
}

// keepAlive sends keepalive requests on a session until it ends.
func (s *Server) keepAlive(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if every := s.o.keepAliveEvery(); every > 0 {
			go s.sendKeepAlives(sess, every)
		}
		next(sess)
	}
}

func (s *Server) sendKeepAlives(sess ssh.Session, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-sess.Context().Done():
			return
		case <-t.C:
		}
		answered := make(chan bool, 1)
		go func() {
			// Any answer will do: OpenSSH replies "failure" to a
			// request it does not know, which is still an answer.
			_, err := sess.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err == nil
		}()
		select {
		case <-sess.Context().Done():
			return
		case ok := <-answered:
			if ok {
				missed = 0
				continue
			}
			missed = keepAliveMisses
		case <-time.After(every):
			missed++
		}
		if missed >= keepAliveMisses {
			s.log.Printf("%s: no answer to %d keepalives: closing the session", sess.RemoteAddr(), missed)
			_ = sess.Close()
			return
		}
	}
}

// letIn is what a refused key's log line adds when the key is simply not
// in the file: the line that would let it in, so someone who just made a
// key learns what to add where.
func (s *Server) letIn(ctx ssh.Context, key ssh.PublicKey, why string) string {
	if key == nil || why != "not in the authorized-keys file" {
		return ""
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key)))
	return fmt.Sprintf("; to let it in, add this line to %s (role=operator to let it act): role=viewer %s %s",
		s.o.AuthorizedKeys, line, safetext.Clean(ctx.User()))
}

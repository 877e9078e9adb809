package sshsrv

import (
	"fmt"
	"sync"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/internal/safetext"
)

// Refused keys are logged with their fingerprint, the client's address,
// the user name it gave and the reason; at most refusalBurst lines per
// refusalEvery, so a flood of attempts cannot fill the log. The first
// line after a quiet spell says how many were not logged.
const (
	refusalEvery = 10 * time.Second
	refusalBurst = 20
)

// refusalLog is the rate limit of refused-key lines.
type refusalLog struct {
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

// allow says whether one more line may be written now, and how many were
// dropped since the last one written.
func (r *refusalLog) allow(now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.start) >= refusalEvery {
		r.start, r.n = now, 0
	}
	r.n++
	if r.n > refusalBurst {
		r.suppressed++
		return false, 0
	}
	dropped := r.suppressed
	r.suppressed = 0
	return true, dropped
}

// refuse logs a refused key (rate-limited).
func (s *Server) refuse(ctx ssh.Context, key gossh.PublicKey, why string) {
	ok, dropped := s.refusals.allow(time.Now())
	if !ok {
		return
	}
	if dropped > 0 {
		s.log.Printf("%d more refused keys were not logged (at most %d lines per %s)", dropped, refusalBurst, refusalEvery)
	}
	fp := "(no key)"
	if key != nil {
		fp = key.Type() + " " + gossh.FingerprintSHA256(key)
	}
	s.log.Printf("refused key %s from %s (user \"%s\"): %s%s", fp, ctx.RemoteAddr(), safetext.Clean(ctx.User()), safetext.Clean(why), s.letIn(ctx, key, why))
}

// allowKey is the public-key check: only keys in the file, from an
// address its from= allows and before its expiry-time, get in. It also
// runs for a key the client only offers (without proving it holds the
// private key): being allowed here is not being logged in (see guard).
func (s *Server) allowKey(ctx ssh.Context, key ssh.PublicKey) bool {
	_, why := s.keys.admit(key, ctx.RemoteAddr(), time.Now())
	if why != "" {
		s.refuse(ctx, key, why)
		return false
	}
	return true
}

// sessionRefused is what a session whose key is no longer good is told.
func sessionRefused(why string) string {
	return fmt.Sprintf("failback: your key is no longer authorized (%s); ask an administrator.", why)
}

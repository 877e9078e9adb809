package sshsrv

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/workflow"
)

// DefaultKeyCheck is how often open sessions are held against the
// authorized-keys file: a key removed (or expired, or no longer allowed
// from its address) loses its sessions within this time.
const DefaultKeyCheck = 2 * time.Second

// A session's role is never fixed at login. Its console talks to a
// keyService, which asks the authorized-keys file again on every action
// (Start, Act, Actions) and acts as whoever the file says the key is now:
// a key demoted to viewer is refused on its next action in the same
// session, and a key that is gone has its session closed. The console's
// own idea of the actor is for display only.

// live is one open session.
type live struct {
	key  gossh.PublicKey
	addr net.Addr
	name string
	conn interface{ Close() error }
	once sync.Once
}

// sessions are the open sessions.
type sessions struct {
	mu  sync.Mutex
	all map[*live]struct{}
}

func (ss *sessions) add(l *live) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.all == nil {
		ss.all = map[*live]struct{}{}
	}
	ss.all[l] = struct{}{}
}

func (ss *sessions) remove(l *live) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.all, l)
}

func (ss *sessions) list() []*live {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]*live, 0, len(ss.all))
	for l := range ss.all {
		out = append(out, l)
	}
	return out
}

// close ends l's connection once, saying why in the serve log.
func (s *Server) close(l *live, why string) {
	l.once.Do(func() {
		s.log.Printf("closed the session of %s (%s) from %s: %s", l.name, gossh.FingerprintSHA256(l.key), l.addr, why)
		if l.conn != nil {
			_ = l.conn.Close()
		}
	})
}

// watchKeys closes, every interval until ctx ends, the sessions whose key
// the authorized-keys file no longer admits.
func (s *Server) watchKeys(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.checkSessions()
	}
}

func (s *Server) checkSessions() {
	now := time.Now()
	for _, l := range s.sessions.list() {
		if _, why := s.keys.admit(l.key, l.addr, now); why != "" {
			s.close(l, "key "+why)
		}
	}
}

// track registers the session with the watch until it ends.
func (s *Server) track(sess ssh.Session, e entry) *live {
	l := &live{key: sess.PublicKey(), addr: sess.RemoteAddr(), name: e.name}
	if c, ok := sess.Context().Value(ssh.ContextKeyConn).(gossh.Conn); ok {
		l.conn = c
	} else {
		l.conn = sess
	}
	s.sessions.add(l)
	go func() {
		<-sess.Context().Done()
		s.sessions.remove(l)
	}()
	return l
}

// keyService is the workflow as one session's console sees it: reads go
// through; every action is taken as the key's current entry.
type keyService struct {
	workflow.Service
	s *Server
	l *live
}

// who is the key's actor now, or the refusal (and the session closed)
// when the file no longer admits it.
func (k keyService) who() (workflow.Actor, error) {
	e, why := k.s.keys.admit(k.l.key, k.l.addr, time.Now())
	if why != "" {
		go k.s.close(k.l, "key "+why)
		return workflow.Actor{}, fmt.Errorf("%s: %w", sessionRefused(why), workflow.ErrNotAllowed)
	}
	return workflow.Actor{Name: e.name, Role: e.role, Via: "ssh"}, nil
}

// Start implements workflow.Service as the key's current actor.
func (k keyService) Start(ctx context.Context, c workflow.Choices, _ workflow.Actor) (string, error) {
	who, err := k.who()
	if err != nil {
		return "", err
	}
	return k.Service.Start(ctx, c, who)
}

// Act implements workflow.Service as the key's current actor.
func (k keyService) Act(ctx context.Context, id string, a workflow.Action, _ workflow.Actor) error {
	who, err := k.who()
	if err != nil {
		return err
	}
	return k.Service.Act(ctx, id, a, who)
}

// Actions implements workflow.Service as the key's current actor; a key
// no longer admitted sees every action refused.
func (k keyService) Actions(id string, _ workflow.Actor) []workflow.ActionState {
	who, err := k.who()
	if err != nil {
		who = workflow.Actor{Name: k.l.name, Role: workflow.RoleViewer, Via: "ssh"}
	}
	return k.Service.Actions(id, who)
}

// refuseSession tells a session why its key no longer gets in.
func refuseSession(sess ssh.Session, why string) {
	wish.Fatalln(sess, sessionRefused(why))
}

package sshsrv

import (
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	"github.com/charmbracelet/wish/activeterm"
	bm "github.com/charmbracelet/wish/bubbletea"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/ui"
)

// middleware is the one place the session pipeline is built. wish
// composes the list so that the LAST middleware runs FIRST; read it
// bottom-up to follow a session:
//
//  4. logSessions: logs every session, refused ones too, and its end,
//     with what the client sent (user name, terminal) made safe.
//  3. needTerminal + activeterm: a session without a PTY gets a friendly
//     hint and exit status 1 (the console cannot draw without one).
//  2. withActor: the key that authenticated this connection is read
//     again from the authorized-keys file (a key removed, expired or no
//     longer allowed from this address since login is turned away), and
//     the session joins the watch that closes it when that changes.
//     keepAlive then asks the client for keepalive replies, so a
//     console nobody types in (a wall display) is not idle.
//  1. bubbletea: runs this session's own program, renderer and styles
//     over the shared root model (ui.New), whose service re-checks the
//     key on every action (keyService). Its program ends with the
//     session; jobs do not.
func (s *Server) middleware() []wish.Middleware {
	return []wish.Middleware{
		// Ascii as the minimum profile: a client's colours are never
		// forced up, so NO_COLOR or a dumb terminal stay colourless.
		bm.MiddlewareWithProgramHandler(s.program, termenv.Ascii),
		s.keepAlive,
		s.withActor,
		activeterm.Middleware(),
		needTerminal,
		s.logSessions,
	}
}

// sessionKey holds the session's live entry in its context.
type sessionKey struct{}

// withActor resolves who is connected and tracks the session.
func (s *Server) withActor(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		e, why := s.keys.admit(sess.PublicKey(), sess.RemoteAddr(), time.Now())
		if why != "" {
			s.refuse(sess.Context(), sess.PublicKey(), why)
			refuseSession(sess, why)
			return
		}
		l := s.track(sess, e)
		sess.Context().SetValue(sessionKey{}, l)
		next(sess)
	}
}

// logSessions logs each session's start and end. Everything the client
// chose (user name, command, terminal type, version) passes safetext.
func (s *Server) logSessions(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		start := time.Now()
		pty, _, _ := sess.Pty()
		who := "(no key)"
		if k := sess.PublicKey(); k != nil {
			who = gossh.FingerprintSHA256(k)
			if e, ok := s.keys.lookup(k); ok {
				who = e.name + " " + who
			}
		}
		s.log.Printf("session of %s from %s (user \"%s\", terminal \"%s\" %dx%d, client \"%s\", command \"%s\")",
			who, sess.RemoteAddr(), safetext.Clean(sess.User()), safetext.Clean(pty.Term), pty.Window.Width, pty.Window.Height,
			safetext.Clean(sess.Context().ClientVersion()), safetext.Clean(strings.Join(sess.Command(), " ")))
		next(sess)
		s.log.Printf("session of %s from %s ended after %s", who, sess.RemoteAddr(), time.Since(start).Round(time.Second))
	}
}

// needTerminal explains what to do when no PTY was requested, before
// activeterm refuses the session.
func needTerminal(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if _, _, ok := sess.Pty(); !ok {
			wish.Println(sess, "failback's console needs a terminal: connect with ssh -t (and no command).")
		}
		next(sess)
	}
}

// program builds this session's console. Its own renderer (from the
// session's terminal type and environment, so NO_COLOR is honoured), its
// own styles and keys; the work context is the server's.
//
// bm.MakeRenderer asks the client's terminal for its background colour
// and waits for the answer; every terminal emulator gives one at once,
// but a client that never answers sees nothing until it presses a key
// (and that key is lost). TERM=dumb skips the question.
func (s *Server) program(sess ssh.Session) *tea.Program {
	l, ok := sess.Context().Value(sessionKey{}).(*live)
	if !ok {
		return nil // withActor did not run: refuse rather than guess a role
	}
	svc := keyService{Service: s.svc, s: s, l: l}
	who, err := svc.who()
	if err != nil {
		return nil
	}
	pty, _, _ := sess.Pty()
	m := ui.New(svc, who, ui.Options{
		Renderer: bm.MakeRenderer(sess),
		Context:  s.workCtx(),
		Refresh:  s.o.Refresh,
		Width:    pty.Window.Width,
		Height:   pty.Window.Height,
	})
	// The session's end releases its subscription and queries; nothing
	// a job depends on is tied to the session.
	go func() {
		<-sess.Context().Done()
		m.Close()
	}()
	return tea.NewProgram(m, append(bm.MakeOptions(sess), tea.WithAltScreen())...)
}

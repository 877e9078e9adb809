package sshsrv

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	"github.com/charmbracelet/wish/activeterm"
	bm "github.com/charmbracelet/wish/bubbletea"
	"github.com/charmbracelet/wish/logging"
	"github.com/muesli/termenv"

	"github.com/failback/failback/ui"
	"github.com/failback/failback/workflow"
)

// middleware is the one place the session pipeline is built. wish
// composes the list so that the LAST middleware runs FIRST; read it
// bottom-up to follow a session:
//
//  4. logging: logs every session, refused ones too, and its end.
//  3. needTerminal + activeterm: a session without a PTY gets a friendly
//     hint and exit status 1 (the console cannot draw without one).
//  2. withActor: the role comes from the key that authenticated this
//     connection, read again from the authorized-keys file; a key removed
//     since login is turned away. keepAlive then asks the client for
//     keepalive replies, so a console nobody types in is not idle.
//  1. bubbletea: runs this session's own program, renderer and styles
//     over the shared root model (ui.New). Its program ends with the
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
		logging.MiddlewareWithLogger(s.log),
	}
}

// actorKey holds the session's actor in its context.
type actorKey struct{}

// withActor resolves who is connected.
func (s *Server) withActor(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		e, ok := s.keys.lookup(sess.PublicKey())
		if !ok {
			wish.Fatalln(sess, "failback: your key is no longer authorized; ask an administrator.")
			return
		}
		sess.Context().SetValue(actorKey{}, workflow.Actor{Name: e.name, Role: e.role, Via: "ssh"})
		next(sess)
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
	who, ok := sess.Context().Value(actorKey{}).(workflow.Actor)
	if !ok {
		return nil // withActor did not run: refuse rather than guess a role
	}
	pty, _, _ := sess.Pty()
	m := ui.New(s.svc, who, ui.Options{
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

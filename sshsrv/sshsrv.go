// Package sshsrv serves failback's console over SSH (charmbracelet/wish):
// every session runs its own bubbletea program, with its own renderer and
// styles, over the same root model as the local console, and watches the
// same live jobs. Public keys only, from an authorized-keys file in which
// each key is marked operator or viewer; unknown keys are refused (and
// logged), and every action asks the file again, so a key's rights follow
// the file, not the moment of login. Connections that have not logged in
// are capped and timed out (guard.go).
//
// Jobs belong to the workflow service, never to a session: closing or
// losing a session ends its program and its subscription, nothing else.
// Start and Act run under the server's context.
package sshsrv

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"

	"github.com/failback/failback/workflow"
)

// DefaultListen is where the server listens unless told otherwise.
const DefaultListen = "127.0.0.1:2222"

// DefaultIdleTimeout closes connections with no traffic for this long.
const DefaultIdleTimeout = 30 * time.Minute

// Options configure the SSH server.
type Options struct {
	// Listen is the TCP address for ListenAndServe (DefaultListen if "").
	Listen string
	// HostKeyPath is the server's private key, created (ed25519, 0600)
	// on first start and reused after.
	HostKeyPath string
	// AuthorizedKeys is the authorized-keys file with role= options (see
	// authkeys.go). It is re-read when it changes, so access can be
	// granted or withdrawn without a restart.
	AuthorizedKeys string
	// IdleTimeout closes a connection after no traffic in either
	// direction for this long (DefaultIdleTimeout if 0; <0: never).
	IdleTimeout time.Duration
	// MaxTimeout closes any connection after this long (0: never).
	MaxTimeout time.Duration
	// KeepAlive spaces the keepalive requests sent to every session, so
	// a console nobody types in (a wall display) is not idle
	// (DefaultKeepAlive if 0, at most a third of IdleTimeout; <0: none).
	KeepAlive time.Duration
	// HandshakeTimeout closes a connection that has not logged in this
	// long after it opened (DefaultHandshakeTimeout if 0).
	HandshakeTimeout time.Duration
	// MaxPreAuth and MaxPreAuthPerSource cap the connections not logged
	// in yet, overall and per client address (DefaultMaxPreAuth and
	// DefaultMaxPreAuthPerSource if 0); see guard.go.
	MaxPreAuth, MaxPreAuthPerSource int
	// KeyCheck is how often open sessions are held against the
	// authorized-keys file (DefaultKeyCheck if 0).
	KeyCheck time.Duration
	// Refresh is the console's coalescing interval (ui.DefaultRefresh if 0).
	Refresh time.Duration
	// Logger receives connection logs (stderr if nil).
	Logger *log.Logger
}

// Server is the SSH server.
type Server struct {
	svc      workflow.Service
	o        Options
	srv      *ssh.Server
	keys     *keyFile
	log      *log.Logger
	guard    *guard
	refusals refusalLog
	sessions sessions

	mu  sync.Mutex
	ctx context.Context // the server's context: Start and Act run under it
}

// New checks the options, loads (or creates) the host key and reads the
// authorized keys. It does not listen yet.
func New(svc workflow.Service, o Options) (*Server, error) {
	if svc == nil {
		return nil, errors.New("sshsrv: no workflow service")
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.MaxPreAuth <= 0 {
		o.MaxPreAuth = DefaultMaxPreAuth
	}
	if o.MaxPreAuthPerSource <= 0 {
		o.MaxPreAuthPerSource = DefaultMaxPreAuthPerSource
	}
	if o.KeyCheck <= 0 {
		o.KeyCheck = DefaultKeyCheck
	}
	s := &Server{svc: svc, o: o, log: o.Logger, ctx: context.Background()}
	if s.log == nil {
		s.log = log.New(os.Stderr, "failback ssh: ", log.LstdFlags)
	}
	signer, err := hostKey(o.HostKeyPath)
	if err != nil {
		return nil, fmt.Errorf("sshsrv: %w", err)
	}
	if s.keys, err = newKeyFile(o.AuthorizedKeys, func(msg string) { s.log.Print(msg) }); err != nil {
		return nil, fmt.Errorf("sshsrv: %w", err)
	}
	s.guard = newGuard(o.HandshakeTimeout, o.MaxPreAuth, o.MaxPreAuthPerSource)
	opts := []ssh.Option{
		wish.WithAddress(o.Listen),
		// Public keys only: no password or keyboard-interactive
		// handler is set, so ssh offers no other method.
		wish.WithPublicKeyAuth(s.allowKey),
		wish.WithMiddleware(s.middleware()...),
		func(srv *ssh.Server) error {
			srv.AddHostKey(signer)
			srv.ConnCallback = s.guard.accept
			srv.ServerConfigCallback = s.guard.serverConfig
			return nil
		},
	}
	if o.IdleTimeout > 0 {
		opts = append(opts, wish.WithIdleTimeout(o.IdleTimeout))
	}
	if o.MaxTimeout > 0 {
		opts = append(opts, wish.WithMaxTimeout(o.MaxTimeout))
	}
	if s.srv, err = wish.NewServer(opts...); err != nil {
		return nil, fmt.Errorf("sshsrv: %w", err)
	}
	return s, nil
}

// ListenAndServe listens on Options.Listen and serves until ctx ends or
// Close is called.
func (s *Server) ListenAndServe(ctx context.Context) error {
	l, err := net.Listen("tcp", s.o.Listen)
	if err != nil {
		return fmt.Errorf("sshsrv: listen on %s: %w (is another server running there?)", s.o.Listen, err)
	}
	return s.Serve(ctx, l)
}

// Serve serves on l until ctx ends or Close is called. ctx is the
// server's context: it bounds the work sessions start (Start, Act).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = s.srv.Close() })
	defer stop()
	watch, endWatch := context.WithCancel(ctx)
	defer endWatch()
	go s.watchKeys(watch, s.o.KeyCheck)
	s.log.Printf("listening on %s", l.Addr())
	err := s.srv.Serve(l)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops listening and closes every session. Jobs are untouched.
func (s *Server) Close() error { return s.srv.Close() }

func (s *Server) workCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx
}

package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failback/failback/azure"
	"github.com/klauspost/compress/zstd"
)

// ServerOptions configure an agent server.
type ServerOptions struct {
	// Storage is the storage account the agent reads; nothing else is
	// reachable through it.
	Storage *azure.Storage
	// Token is the per-deployment bearer token clients must send (at
	// least MinTokenLen characters).
	Token azure.Secret
	// Containers, when not empty, are the only containers served.
	Containers []string
	// Parallel bounds concurrent storage reads over all requests
	// (default 16).
	Parallel int
	// RequestParallel bounds the storage reads of one request (default 8).
	RequestParallel int
	// MemoryLimit bounds block buffers over all requests (default 512 MiB;
	// at least 64 MiB).
	MemoryLimit int64
	// MaxRequests bounds requests served at once; more are refused with
	// 503 and a Retry-After, which clients retry (default 64).
	MaxRequests int
	// Compression is the zstd level of block frames (default
	// zstd.SpeedDefault).
	Compression zstd.EncoderLevel
	// SnapshotCache is how many opened snapshots are kept (default 64).
	SnapshotCache int
	// Logger receives refused requests, failures and (at debug level) one
	// line per request. Default: slog.Default().
	Logger *slog.Logger
}

// MinTokenLen is the shortest token the agent accepts: the token is all
// that stands between the internet and the disks' contents.
const MinTokenLen = 16

// Server is the agent. It is safe for concurrent use.
type Server struct {
	o         ServerOptions
	log       *slog.Logger
	tokenHash [32]byte
	allowed   map[string]bool
	snaps     *snapCache
	reads     chan struct{} // one token per storage read in progress
	mem       *weighted
	reqs      chan struct{} // one token per request in progress
	enc       *zstd.Encoder
	refusals  logLimiter

	stats serverCounters
}

// ServerStats count what an agent did since it started.
type ServerStats struct {
	Requests      int64 `json:"requests"`
	Refused       int64 `json:"refused"` // 401: no or wrong token
	Busy          int64 `json:"busy"`    // 503: too many requests
	SumsServed    int64 `json:"sums_served"`
	FramesServed  int64 `json:"frames_served"`
	BytesRead     int64 `json:"bytes_read"`     // read from storage
	BytesChecked  int64 `json:"bytes_checked"`  // covered by sums
	PayloadSent   int64 `json:"payload_sent"`   // frame payload bytes
	PlaintextSent int64 `json:"plaintext_sent"` // frame bytes before compression
}

type serverCounters struct {
	requests, refused, busy, sums, frames   atomic.Int64
	read, checked, payload, plaintextFrames atomic.Int64
}

// NewServer checks o and builds a server; nothing is read yet.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Storage == nil {
		return nil, errors.New("agent: no storage account given")
	}
	if len(o.Token.Reveal()) < MinTokenLen {
		return nil, fmt.Errorf("agent: the token must be at least %d characters; make one with `openssl rand -hex 32`", MinTokenLen)
	}
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	if o.RequestParallel <= 0 {
		o.RequestParallel = 8
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = 512 << 20
	}
	if o.MemoryLimit < 64<<20 {
		return nil, fmt.Errorf("agent: memory limit %d bytes is below the 64 MiB two of the largest blocks need", o.MemoryLimit)
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 64
	}
	if o.Compression == 0 {
		o.Compression = zstd.SpeedDefault
	}
	if o.SnapshotCache <= 0 {
		o.SnapshotCache = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(o.Compression),
		zstd.WithEncoderConcurrency(o.Parallel), zstd.WithEncoderCRC(false), zstd.WithWindowSize(MaxFrame))
	if err != nil {
		return nil, fmt.Errorf("agent: zstd: %w", err)
	}
	s := &Server{
		o: o, log: o.Logger, tokenHash: sha256.Sum256([]byte(o.Token.Reveal())),
		snaps: newSnapCache(o.Storage, o.SnapshotCache),
		reads: make(chan struct{}, o.Parallel), mem: newWeighted(o.MemoryLimit),
		reqs: make(chan struct{}, o.MaxRequests), enc: enc,
		refusals: logLimiter{every: time.Second, burst: 10},
	}
	if len(o.Containers) > 0 {
		s.allowed = map[string]bool{}
		for _, c := range o.Containers {
			if err := checkContainer(c); err != nil {
				return nil, fmt.Errorf("agent: --container: %w", err)
			}
			s.allowed[c] = true
		}
	} else {
		s.log.Warn("agent: no container allow-list: every container of the storage account is served to any client with the token; name the disks' containers with --container to serve only those")
	}
	return s, nil
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	c := &s.stats
	return ServerStats{Requests: c.requests.Load(), Refused: c.refused.Load(), Busy: c.busy.Load(),
		SumsServed: c.sums.Load(), FramesServed: c.frames.Load(), BytesRead: c.read.Load(),
		BytesChecked: c.checked.Load(), PayloadSent: c.payload.Load(), PlaintextSent: c.plaintextFrames.Load()}
}

// Handler is the agent's HTTP API, authentication included.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathInfo, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(currentInfo())
	})
	mux.HandleFunc("GET "+pathSnapshot, s.handleSnapshot)
	mux.HandleFunc("GET "+pathSums, s.handleSums)
	mux.HandleFunc("GET "+pathBlocks, s.handleBlocks)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.stats.requests.Add(1)
		if why := s.authorize(r); why != "" {
			s.stats.refused.Add(1)
			if s.refusals.allow() {
				// Never the token itself, nor the Authorization header.
				s.log.Warn("agent: refused an unauthenticated request", "remote", r.RemoteAddr,
					"method", r.Method, "path", r.URL.Path, "reason", why)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="failback-agent"`)
			http.Error(w, "unauthorized: send the deployment token as Authorization: Bearer TOKEN", http.StatusUnauthorized)
			return
		}
		select {
		case s.reqs <- struct{}{}:
			defer func() { <-s.reqs }()
		default:
			s.stats.busy.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "agent busy: too many requests at once; retry", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authorize returns why r is refused, or "" when its token is right. The
// tokens are compared as SHA-256 digests in constant time, so neither the
// content nor the length of the expected token leaks through timing.
func (s *Server) authorize(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "no token"
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return "not a bearer token"
	}
	got := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
		return "wrong token"
	}
	return ""
}

// Serve answers HTTPS (TLS 1.3 only) on ln with cert until ctx ends, then
// lets requests in progress finish for up to 10 s. It returns nil after a
// shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener, cert tls.Certificate) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0), // TLS noise from scanners
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	tl := tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}})
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if hs.Shutdown(sctx) != nil {
				_ = hs.Close()
			}
		case <-done:
		}
	}()
	err := hs.Serve(tl)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// logLimiter lets at most burst log lines through per every, so a flood
// of refused requests cannot fill the disk with logs.
type logLimiter struct {
	every time.Duration
	burst int

	mu    sync.Mutex
	start time.Time
	n     int
}

func (l *logLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.start) >= l.every {
		l.start, l.n = now, 0
	}
	l.n++
	return l.n <= l.burst
}

// storageStatus maps a storage failure to an HTTP status and whether the
// client should retry: a missing snapshot is the client's to fix; the
// agent's own storage access failing is worth retrying (or reading
// directly, which uses the client's own credentials).
func storageStatus(err error) (int, bool) {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, true
	case errors.Is(err, azure.ErrNotFound):
		return http.StatusNotFound, false
	case errors.Is(err, azure.ErrNotPageBlob), errors.Is(err, azure.ErrBadFooter):
		return http.StatusUnprocessableEntity, false
	case errors.Is(err, azure.ErrOutOfRange):
		return http.StatusRequestedRangeNotSatisfiable, false
	}
	return http.StatusBadGateway, true
}

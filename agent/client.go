package agent

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
	"github.com/klauspost/compress/zstd"
)

// Options say how to reach an agent and which snapshot to read.
type Options struct {
	// URL is the agent's base URL, https://host:port.
	URL string
	// CertFingerprint pins the agent's leaf certificate by its SHA-256
	// (hex, colons allowed). Exactly one of CertFingerprint and CertFile.
	CertFingerprint string
	// CertFile is a PEM file holding the agent's certificate (pinned
	// exactly) or the CA that issued it (verified with the URL's host).
	CertFile string
	// CertPEM is that file's content, instead of CertFile (a mover on a
	// Hyper-V host gets the driver's file this way).
	CertPEM []byte
	// Token is the per-deployment bearer token.
	Token azure.Secret

	// Container, Blob and Snapshot name the snapshot to read.
	Container, Blob, Snapshot string

	// Fallback, when set, is the same snapshot read directly (an
	// azure.SnapshotSource): used while the agent is unreachable.
	Fallback engine.Source
	// FallbackParallel is how many blocks HashBlocks reads at once
	// through the fallback (default 4).
	FallbackParallel int
	// ReprobeAfter is how long the source stays on the fallback before it
	// tries the agent again (default 1 min).
	ReprobeAfter time.Duration

	// FrameSize is the unit the agent compresses and checks (default 1
	// MiB; MinFrame to MaxFrame).
	FrameSize int64
	// MaxRetries is how many failures in a row, without progress, a
	// request survives before the agent counts as unreachable (default 5;
	// negative: none). RetryDelay (default 500 ms) doubles up to
	// MaxRetryDelay (default 10 s).
	MaxRetries    int
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// IdleTimeout fails an attempt that receives nothing for this long
	// (default 2 min).
	IdleTimeout time.Duration
	// Parallel is the connection pool size (default 16).
	Parallel int

	// Logger receives switches to and from the fallback (default
	// slog.Default()).
	Logger *slog.Logger
	// DialContext replaces the TCP dialer (tests count or cut the link
	// with it). The TLS handshake runs on top of what it returns.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Source is an engine.Source and engine.BlockHasher reading one snapshot
// through the agent. Safe for concurrent use.
type Source struct {
	o     Options
	base  *url.URL
	ref   snapRef
	hc    *http.Client
	tr    *http.Transport
	dec   *zstd.Decoder
	log   *slog.Logger
	size  int64
	alloc []engine.Extent // nil when the agent could not be asked

	reqPrefix string
	reqSeq    atomic.Uint64
	st        clientCounters
	ahead     readAhead
	// bg is the context of read-ahead requests: they outlive the call
	// that started them, and end with Close.
	bg       context.Context
	bgCancel context.CancelFunc

	fbMu      sync.Mutex
	down      bool      // the agent is unreachable: use the fallback
	retryAt   time.Time // when to try the agent again
	fbAlloc   []engine.Extent
	fbAllocOK bool
}

var (
	_ engine.Source      = (*Source)(nil)
	_ engine.BlockHasher = (*Source)(nil)
)

// Stats count what went over the agent link and around it.
type Stats struct {
	// CheckedBytes are disk bytes whose checksums the agent computed in
	// Azure (only the checksums crossed the link).
	CheckedBytes int64 `json:"checked_bytes"`
	// BlockBytes are the bytes of blocks the agent sent, before
	// compression (zero frames included).
	BlockBytes int64 `json:"block_bytes"`
	// PayloadBytes are those blocks as sent: compressed, zero frames free.
	PayloadBytes int64 `json:"payload_bytes"`
	// ZeroBytes are block bytes sent as zero markers.
	ZeroBytes int64 `json:"zero_bytes"`
	// WireIn and WireOut are the bytes on the link's TCP connections
	// (TLS, HTTP and payload), received and sent.
	WireIn  int64 `json:"wire_in"`
	WireOut int64 `json:"wire_out"`
	// Requests, Retries and Dials count attempts, failed attempts tried
	// again, and TCP connections opened (reconnects included).
	Requests int64 `json:"requests"`
	Retries  int64 `json:"retries"`
	Dials    int64 `json:"dials"`
	// Fallback says the agent is unreachable now and reads go directly to
	// storage; FallbackSwitches counts the times that started.
	Fallback         bool  `json:"fallback"`
	FallbackSwitches int64 `json:"fallback_switches"`
	// FallbackReadBytes and FallbackHashedBytes are bytes read directly
	// from storage, for ReadAt and for checksums: they crossed the WAN in
	// full.
	FallbackReadBytes   int64 `json:"fallback_read_bytes"`
	FallbackHashedBytes int64 `json:"fallback_hashed_bytes"`
}

// WireBytes are all bytes on the agent link, both ways.
func (s Stats) WireBytes() int64 { return s.WireIn + s.WireOut }

// CompressionSaved is what compression and zero markers kept off the link.
func (s Stats) CompressionSaved() int64 { return s.BlockBytes - s.PayloadBytes }

type clientCounters struct {
	checked, block, payload, zero, wireIn, wireOut atomic.Int64
	requests, retries, dials, switches             atomic.Int64
	fbRead, fbHashed                               atomic.Int64
}

// Stats returns the counters now; cheap enough for a progress sampler.
func (s *Source) Stats() Stats {
	c := &s.st
	down := s.FallingBack()
	return Stats{CheckedBytes: c.checked.Load(), BlockBytes: c.block.Load(), PayloadBytes: c.payload.Load(),
		ZeroBytes: c.zero.Load(), WireIn: c.wireIn.Load(), WireOut: c.wireOut.Load(),
		Requests: c.requests.Load(), Retries: c.retries.Load(), Dials: c.dials.Load(),
		Fallback: down, FallbackSwitches: c.switches.Load(),
		FallbackReadBytes: c.fbRead.Load(), FallbackHashedBytes: c.fbHashed.Load()}
}

// FallingBack says the agent is unreachable now: reads, and checksums,
// go straight to storage (so every byte crosses the WAN).
func (s *Source) FallingBack() bool {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	return s.down
}

// NewSource connects to the agent, checks its certificate and token, and
// reads the snapshot's size and allocated ranges. If the agent cannot be
// reached and a Fallback is given, the source starts on the fallback (and
// tries the agent again later); a refused token or certificate is always
// an error: that is a configuration to fix, not an outage.
func NewSource(ctx context.Context, o Options) (*Source, error) {
	if o.Container == "" || o.Blob == "" || o.Snapshot == "" {
		return nil, errors.New("agent: container, blob and snapshot must all be named (the agent reads snapshots only)")
	}
	s, err := newSource(o)
	if err != nil {
		return nil, err
	}
	err = s.retry(ctx, "open snapshot "+s.ref.String(), func(ctx context.Context, id string) (bool, error) {
		return false, s.fetchSnapshot(ctx, id)
	})
	switch {
	case err == nil:
		if s.o.Fallback != nil && s.o.Fallback.Size() != s.size {
			s.Close()
			return nil, fmt.Errorf("agent says snapshot %s is %d bytes, the direct read says %d: they are not the same snapshot", s.ref, s.size, s.o.Fallback.Size())
		}
	case errors.Is(err, errAgentDown) && s.o.Fallback != nil:
		s.size = s.o.Fallback.Size()
	default:
		s.Close()
		return nil, err
	}
	return s, nil
}

func newSource(o Options) (*Source, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	base, err := url.Parse(o.URL)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("agent URL %q: write https://host:port (the agent always speaks TLS)", o.URL)
	}
	tlsConf, err := pinnedTLS(o, base.Hostname())
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(o.Parallel),
		zstd.WithDecoderMaxMemory(MaxFrame), zstd.WithDecoderMaxWindow(MaxFrame), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, err
	}
	s := &Source{o: o, base: base, dec: dec, log: o.Logger,
		ref:       snapRef{container: o.Container, blob: o.Blob, snapshot: o.Snapshot},
		reqPrefix: randomID()}
	s.bg, s.bgCancel = context.WithCancel(context.Background())
	s.tr = newTransport(o, tlsConf, &s.st)
	s.hc = &http.Client{Transport: s.tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("the agent never redirects: check the URL")
	}}
	return s, nil
}

func (o *Options) defaults() error {
	switch {
	case o.Token.IsZero():
		return errors.New("agent: no token: set [agent] token (or token_env / token_file)")
	case o.CertFingerprint == "" && o.CertFile == "" && len(o.CertPEM) == 0:
		return errors.New("agent: no pinned certificate: set [agent] cert_fingerprint or cert_file")
	case o.CertFingerprint != "" && (o.CertFile != "" || len(o.CertPEM) > 0):
		return errors.New("agent: both cert_fingerprint and cert_file are set: keep one")
	}
	if o.FrameSize == 0 {
		o.FrameSize = DefaultFrame
	}
	if o.FrameSize < MinFrame || o.FrameSize > MaxFrame {
		return fmt.Errorf("agent: frame size %d: use %d to %d", o.FrameSize, MinFrame, MaxFrame)
	}
	if o.FallbackParallel <= 0 {
		o.FallbackParallel = 4
	}
	if o.ReprobeAfter <= 0 {
		o.ReprobeAfter = time.Minute
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 500 * time.Millisecond
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Size is the virtual disk size.
func (s *Source) Size() int64 { return s.size }

// Allocated lists the snapshot's allocated ranges, as the agent read them
// (or the fallback, when the agent was unreachable from the start).
func (s *Source) Allocated(ctx context.Context) ([]engine.Extent, error) {
	if s.alloc != nil {
		return slices.Clone(s.alloc), nil
	}
	return s.fallbackAlloc(ctx)
}

// Close ends read-ahead requests and drops idle connections. Call it
// when the sync is over; the source must not be used after.
func (s *Source) Close() {
	s.bgCancel()
	s.tr.CloseIdleConnections()
	s.dec.Close()
}

// fetchSnapshot reads size and allocated ranges from the agent.
func (s *Source) fetchSnapshot(ctx context.Context, id string) error {
	body, err := s.get(ctx, id, pathSnapshot, s.ref.query())
	if err != nil {
		return err
	}
	defer body.Close()
	r := bufio.NewReader(body)
	if err := readMagic(r, magicAlloc); err != nil {
		return err
	}
	var sz [8]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return truncated(err)
	}
	size := int64(binary.LittleEndian.Uint64(sz[:]))
	if size <= 0 || size > 1<<50 {
		return fmt.Errorf("agent reported a disk size of %d bytes", size)
	}
	alloc := []engine.Extent{}
	var end int64
	for {
		gap, err1 := binary.ReadUvarint(r)
		n, err2 := binary.ReadUvarint(r)
		if err := errors.Join(err1, err2); err != nil {
			return truncated(err)
		}
		if n == 0 {
			break
		}
		off := end + int64(gap)
		// Page ranges are whole 512-byte pages: anything else is not an
		// agent's answer (and bounds the list a peer can make us hold).
		if gap > uint64(size) || n > uint64(size) || off+int64(n) > size || off%512 != 0 || n%512 != 0 {
			return fmt.Errorf("agent sent a malformed range list (range at %d, %d bytes, disk %d bytes)", off, n, size)
		}
		alloc = append(alloc, engine.Extent{Off: off, Len: int64(n)})
		end = off + int64(n)
	}
	if k, err := r.ReadByte(); err != nil || k != kindEnd {
		return truncated(io.ErrUnexpectedEOF)
	}
	if err := readEnd(r, len(alloc)); err != nil {
		return err
	}
	drain(r)
	s.size, s.alloc = size, alloc
	return nil
}

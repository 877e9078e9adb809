package agent

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/failback/failback/internal/backoff"
)

// Errors callers test with errors.Is.
var (
	// ErrCertMismatch: the agent's certificate is not the pinned one.
	ErrCertMismatch = errors.New("agent certificate does not match the pinned one")
	// ErrUnauthorized: the agent refused the token (HTTP 401).
	ErrUnauthorized = errors.New("agent refused the token")
	// ErrNotFound: the agent cannot find the container, blob or snapshot.
	ErrNotFound = errors.New("agent cannot find the snapshot")
	// errAgentDown: retries are used up; the caller may use the fallback.
	errAgentDown = errors.New("agent unreachable")
	// errProtocol marks answers that make no sense: retrying cannot help.
	errProtocol = errors.New("agent protocol error")
	// errIdle: an attempt received nothing for IdleTimeout.
	errIdle = errors.New("agent sent nothing for too long")
)

// CertMismatchError says which certificate the agent presented.
type CertMismatchError struct {
	Host      string
	Got, Want string // fingerprints; Want is empty for a CA file
	Err       error  // the chain verification error, for a CA file
}

func (e *CertMismatchError) Error() string {
	if e.Want != "" {
		return fmt.Sprintf("%s: %s presented a certificate with SHA-256 fingerprint %s, but [agent] cert_fingerprint pins %s; if the agent's certificate was replaced, pin the new one (failback agent --print-fingerprint), otherwise something is intercepting the connection", ErrCertMismatch, e.Host, e.Got, e.Want)
	}
	return fmt.Sprintf("%s: %s presented a certificate (SHA-256 %s) that is neither the one in [agent] cert_file nor issued by it: %v", ErrCertMismatch, e.Host, e.Got, e.Err)
}

// Is makes errors.Is(err, ErrCertMismatch) true.
func (e *CertMismatchError) Is(target error) bool { return target == ErrCertMismatch }

// pinnedTLS builds the client's TLS 1.3 configuration. Go's own chain
// check is off (the agent's certificate is usually self-signed); the
// pin check in VerifyConnection replaces it and runs on every handshake.
func pinnedTLS(o Options, host string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: host, InsecureSkipVerify: true}
	if o.CertFingerprint != "" {
		want, err := ParseFingerprint(o.CertFingerprint)
		if err != nil {
			return nil, err
		}
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: %s presented no certificate", ErrCertMismatch, host)
			}
			raw := cs.PeerCertificates[0].Raw
			if sha256.Sum256(raw) != want {
				return &CertMismatchError{Host: host, Got: Fingerprint(raw), Want: fingerprintHex(want)}
			}
			return nil
		}
		return c, nil
	}
	certs, err := parseCerts(o.CertPEM, "the agent certificate handed over")
	if len(o.CertPEM) == 0 {
		certs, err = readCerts(o.CertFile)
	}
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	for _, ct := range certs {
		roots.AddCert(ct)
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: %s presented no certificate", ErrCertMismatch, host)
		}
		leaf := cs.PeerCertificates[0]
		for _, ct := range certs {
			if bytes.Equal(ct.Raw, leaf.Raw) {
				return nil
			}
		}
		inter := x509.NewCertPool()
		for _, ct := range cs.PeerCertificates[1:] {
			inter.AddCert(ct)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host}); err != nil {
			return &CertMismatchError{Host: host, Got: Fingerprint(leaf.Raw), Err: err}
		}
		return nil
	}
	return c, nil
}

func fingerprintHex(fp [32]byte) string {
	b := make([]byte, 0, 95)
	for i, x := range fp {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, "0123456789ABCDEF"[x>>4], "0123456789ABCDEF"[x&15])
	}
	return string(b)
}

// countingConn counts the bytes of one TCP connection.
type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

func newTransport(o Options, tc *tls.Config, ctr *clientCounters) *http.Transport {
	dial := o.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			ctr.dials.Add(1)
			return &countingConn{Conn: conn, in: &ctr.wireIn, out: &ctr.wireOut}, nil
		},
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: o.IdleTimeout,
		MaxIdleConns:          o.Parallel,
		MaxIdleConnsPerHost:   o.Parallel,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // frames are compressed already; sums do not compress
	}
}

func randomID() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// get sends one attempt of a GET and returns the body of a 200 answer,
// guarded by the idle timeout; any other status is an error.
func (s *Source) get(ctx context.Context, id, path string, q url.Values) (io.ReadCloser, error) {
	s.st.requests.Add(1)
	actx, cancel := context.WithCancel(ctx)
	var idle atomic.Bool
	timer := time.AfterFunc(s.o.IdleTimeout, func() { idle.Store(true); cancel() })
	u := *s.base
	u.Path, u.RawQuery = path, q.Encode()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		timer.Stop()
		cancel()
		return nil, fmt.Errorf("%w: %w", errProtocol, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.o.Token.Reveal())
	req.Header.Set(headerRequestID, id)
	resp, err := s.hc.Do(req)
	if err != nil {
		timer.Stop()
		cancel()
		if idle.Load() {
			return nil, errIdle
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrMsg))
		resp.Body.Close()
		timer.Stop()
		cancel()
		return nil, statusError(resp, bytes.TrimSpace(msg))
	}
	return &idleBody{ReadCloser: resp.Body, timer: timer, d: s.o.IdleTimeout, idle: &idle, cancel: cancel}, nil
}

func statusError(resp *http.Response, msg []byte) error {
	e := &RemoteError{Status: resp.StatusCode, Msg: string(msg)}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w (HTTP 401): set [agent] token to the value the agent was started with (its --token-env or --token-file)", ErrUnauthorized)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, e)
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		e.Transient = true
	}
	return e
}

// idleBody fails a read once nothing arrived for d.
type idleBody struct {
	io.ReadCloser
	timer  *time.Timer
	d      time.Duration
	idle   *atomic.Bool
	cancel context.CancelFunc
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.d)
	}
	if err != nil && err != io.EOF && b.idle.Load() {
		err = errIdle
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// transient reports whether a retry of the failed attempt may succeed:
// broken or refused connections, timeouts, answers cut short, frames that
// fail their check, and the agent's 5xx, 408 and 429. A refused token, a
// wrong certificate, a missing snapshot and nonsense answers are not.
func transient(err error) bool {
	var re *RemoteError
	var ae tls.AlertError
	var rh tls.RecordHeaderError
	switch {
	case errors.Is(err, ErrCertMismatch), errors.Is(err, ErrUnauthorized), errors.Is(err, ErrNotFound),
		errors.Is(err, errProtocol):
		return false
	case errors.As(err, &re):
		return re.Transient
	case errors.As(err, &ae), errors.As(err, &rh):
		return false // not a TLS 1.3 server at that address
	}
	return true
}

// retry runs attempt until it succeeds, fails for good, or fails
// MaxRetries+1 times in a row without progress (an attempt that made
// progress resets the count: it resumes where it stopped). Then, with a
// fallback, the agent is marked down and errAgentDown returned; while it
// is down, calls return errAgentDown at once, except one try per
// ReprobeAfter.
func (s *Source) retry(ctx context.Context, what string, attempt func(ctx context.Context, id string) (bool, error)) error {
	limit := max(s.o.MaxRetries, 0)
	if s.o.Fallback != nil {
		down, probe := s.agentState()
		if down && !probe {
			return errAgentDown
		}
		if probe {
			limit = 0
		}
	}
	id := s.reqPrefix + "-" + strconv.FormatUint(s.reqSeq.Add(1), 10)
	for fails := 0; ; {
		progress, err := attempt(ctx, id)
		if err == nil {
			s.markUp()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !transient(err) {
			return fmt.Errorf("agent %s: %s: %w", s.base.Host, what, err)
		}
		if progress {
			fails = 0
		}
		fails++
		if fails > limit {
			s.markDown(err)
			return fmt.Errorf("%w: %s after %d tries: %s: %w; check that the agent runs and that its firewall lets this host in, or remove [agent] to read the blobs directly",
				errAgentDown, s.base.Host, fails, what, err)
		}
		s.st.retries.Add(1)
		if err := backoff.Sleep(ctx, backoff.Delay(s.o.RetryDelay, s.o.MaxRetryDelay, fails)); err != nil {
			return err
		}
		if s.o.Fallback != nil {
			if down, _ := s.agentState(); down {
				return errAgentDown // another call gave up on the agent meanwhile
			}
		}
	}
}

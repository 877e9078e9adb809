// Package faultproxy is an HTTP reverse proxy for tests that sits in front
// of a real server (Azurite) and injects the failures a WAN link to Azure
// produces: connection resets, 500 and 503 answers, slow answers, and
// bodies cut short. Faults come from a schedule (the nth request gets the
// nth fault) or by probability from a seeded generator, so a failing run
// can be repeated. It can also throttle as Azure does: refuse, with 429
// and Retry-After, what goes over a byte rate (throttle.go).
package faultproxy

import (
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what the proxy does to one request.
type Fault int

// The faults.
const (
	// None forwards the request untouched.
	None Fault = iota
	// Reset drops the client connection with a TCP RST before answering.
	Reset
	// Error500 answers 500 InternalError without forwarding.
	Error500
	// Error503 answers 503 ServerBusy without forwarding.
	Error503
	// Slow waits SlowDelay, then forwards.
	Slow
	// CutShort forwards, sends the headers (with the full Content-Length)
	// and part of the body, then drops the connection.
	CutShort
	numFaults
)

var faultNames = [...]string{"none", "reset", "500", "503", "slow", "cut-short"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Options configure a proxy.
type Options struct {
	// Upstream is the base URL requests are forwarded to, such as
	// http://127.0.0.1:10000.
	Upstream string
	// Seed makes the probabilistic faults repeatable.
	Seed uint64
	// Probabilities of each fault per matching request (their sum at most 1).
	Reset, Error500, Error503, Slow, CutShort float64
	// SlowDelay is how long Slow waits (default 200 ms).
	SlowDelay time.Duration
	// Schedule gives the first len(Schedule) matching requests their
	// fault, before probabilities apply.
	Schedule []Fault
	// Match selects the requests that may get a fault (nil: all).
	Match func(*http.Request) bool
	// Throttle refuses matching requests over a byte rate (throttle.go).
	Throttle Throttle
}

// Proxy is a running fault-injecting proxy. Close it when done.
type Proxy struct {
	// URL is the proxy's base URL (http://127.0.0.1:port).
	URL string

	opts     Options
	upstream *url.URL
	client   *http.Client
	srv      *http.Server
	ln       net.Listener

	mu      sync.Mutex
	rng     *rand.Rand
	matched int
	counts  [numFaults]atomic.Int64
	total   atomic.Int64
	enabled atomic.Bool

	bucket    *bucket // nil: no throttling
	throttled atomic.Int64
}

// Start listens on a free loopback port and serves until Close.
func Start(o Options) (*Proxy, error) {
	up, err := url.Parse(o.Upstream)
	if err != nil || up.Host == "" {
		return nil, fmt.Errorf("faultproxy: upstream %q is not a URL", o.Upstream)
	}
	if o.SlowDelay == 0 {
		o.SlowDelay = 200 * time.Millisecond
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		URL:      "http://" + ln.Addr().String(),
		opts:     o,
		upstream: up,
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}},
		ln:     ln,
		rng:    newRNG(o.Seed),
		bucket: newBucket(o.Throttle),
	}
	p.enabled.Store(true)
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy and drops its connections.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.client.CloseIdleConnections()
	return err
}

// SetEnabled turns fault injection on or off (requests are still forwarded).
func (p *Proxy) SetEnabled(on bool) { p.enabled.Store(on) }

// Count is how many requests got fault f.
func (p *Proxy) Count(f Fault) int64 {
	if f < 0 || f >= numFaults {
		return 0
	}
	return p.counts[f].Load()
}

// Requests is how many requests the proxy received.
func (p *Proxy) Requests() int64 { return p.total.Load() }

// Faults is the number of requests that got any fault.
func (p *Proxy) Faults() int64 {
	var n int64
	for f := Reset; f < numFaults; f++ {
		n += p.counts[f].Load()
	}
	return n
}

func newRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
}

// pick decides the fault for a request.
func (p *Proxy) pick(r *http.Request) Fault {
	if !p.enabled.Load() || (p.opts.Match != nil && !p.opts.Match(r)) {
		return None
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.matched
	p.matched++
	if n < len(p.opts.Schedule) {
		return p.opts.Schedule[n]
	}
	x := p.rng.Float64()
	for _, c := range []struct {
		f Fault
		p float64
	}{{Reset, p.opts.Reset}, {Error500, p.opts.Error500}, {Error503, p.opts.Error503}, {Slow, p.opts.Slow}, {CutShort, p.opts.CutShort}} {
		if x < c.p {
			return c.f
		}
		x -= c.p
	}
	return None
}

// cutPoint is where a CutShort body ends: somewhere in [0, n).
func (p *Proxy) cutPoint(n int64) int64 {
	if n <= 1 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Int64N(n)
}

// ServeHTTP forwards one request, applying its fault.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.total.Add(1)
	if p.throttle(w, r) {
		return
	}
	f := p.pick(r)
	p.counts[f].Add(1)
	switch f {
	case Reset:
		resetConn(w)
		return
	case Error500, Error503:
		status, code := http.StatusInternalServerError, "InternalError"
		if f == Error503 {
			status, code = http.StatusServiceUnavailable, "ServerBusy"
		}
		writeError(w, r, status, code, "injected by faultproxy")
		return
	case Slow:
		t := time.NewTimer(p.opts.SlowDelay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	p.forward(w, r, f == CutShort)
}

// writeError answers as storage does when it refuses a request.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("x-ms-error-code", code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, cut bool) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.upstream.Scheme, p.upstream.Host
	out.Host = p.upstream.Host
	if r.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, "faultproxy: upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if !cut || resp.ContentLength <= 0 {
		_, _ = io.Copy(w, resp.Body)
		return
	}
	_, _ = io.CopyN(w, resp.Body, p.cutPoint(resp.ContentLength))
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	// Abort: the server closes the connection without finishing the body,
	// and the client sees an unexpected EOF.
	panic(http.ErrAbortHandler)
}

// resetConn closes the client's connection with SO_LINGER 0, which sends
// a TCP RST: the client sees "connection reset by peer".
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

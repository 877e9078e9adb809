package faultproxy

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Throttle makes the proxy refuse, as Azure does, the matching requests
// that go over a byte rate: a token bucket of Burst seconds of Rate;
// a request is let through while the bucket is not in debt and takes
// its bytes from it (a ranged GET's range, or the body it sends); any
// other is answered Status (429 unless set) with Retry-After in whole
// seconds, the time the debt takes to clear.
type Throttle struct {
	Rate   float64 // bytes per second; 0: no throttling
	Burst  time.Duration
	Status int
}

type bucket struct {
	t      Throttle
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(t Throttle) *bucket {
	if t.Rate <= 0 {
		return nil
	}
	if t.Burst <= 0 {
		t.Burst = 250 * time.Millisecond
	}
	if t.Status == 0 {
		t.Status = http.StatusTooManyRequests
	}
	return &bucket{t: t, tokens: t.Rate * t.Burst.Seconds(), last: time.Now()}
}

// admit takes n bytes, or says how long to wait (in whole seconds).
func (b *bucket) admit(n int64) (ok bool, retryAfter int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = math.Min(b.tokens+now.Sub(b.last).Seconds()*b.t.Rate, b.t.Rate*b.t.Burst.Seconds())
	b.last = now
	if b.tokens < 0 {
		return false, int(math.Max(1, math.Ceil(-b.tokens/b.t.Rate)))
	}
	b.tokens -= float64(n)
	return true, 0
}

// size is how many bytes a request moves: a ranged read's range (a
// range list's range is no data), or its body.
func size(r *http.Request) int64 {
	if r.Method != http.MethodGet {
		return max(r.ContentLength, 0)
	}
	if r.URL.Query().Get("comp") != "" {
		return 0
	}
	v := r.Header.Get("x-ms-range")
	if v == "" {
		v = r.Header.Get("Range")
	}
	from, to, ok := strings.Cut(strings.TrimPrefix(v, "bytes="), "-")
	a, err1 := strconv.ParseInt(from, 10, 64)
	c, err2 := strconv.ParseInt(to, 10, 64)
	if !ok || err1 != nil || err2 != nil || c < a {
		return 0
	}
	return c - a + 1
}

// Throttled is how many requests the proxy refused for going over its
// throttle's rate.
func (p *Proxy) Throttled() int64 { return p.throttled.Load() }

// throttle answers a request over the rate and reports whether it did.
func (p *Proxy) throttle(w http.ResponseWriter, r *http.Request) bool {
	if p.bucket == nil || !p.enabled.Load() || (p.opts.Match != nil && !p.opts.Match(r)) {
		return false
	}
	ok, after := p.bucket.admit(size(r))
	if ok {
		return false
	}
	p.throttled.Add(1)
	w.Header().Set("Retry-After", strconv.Itoa(after))
	writeError(w, r, p.bucket.t.Status, "ServerBusy", "throttled by faultproxy: over the rate")
	return true
}

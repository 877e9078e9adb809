package azure

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/failback/failback/internal/adaptive"
	"github.com/failback/failback/internal/backoff"
)

// Throttling: every request to storage passes an adaptive limit of its
// blob (a disk, or a managed disk's snapshot through its SAS) and one of
// its storage account (internal/adaptive says how they move). A 429 or
// 503 answer is throttling: the policy below waits (Retry-After when the
// service sends one, else the retry back-off), tells the limits, and
// sends again under them, so throttling slows a transfer without ever
// failing it; the SDK's own retries keep timeouts and server failures.
// A throttle counts against the account too when two of its blobs are
// throttled within a second of each other: one blob's limit is its own,
// several at once are the account's.

// Starting points and bounds of the limits. A blob starts where a fixed
// setting used to stay (4 requests); an account lets many disks move at
// once and only shrinks when several of its blobs are throttled.
var (
	blobLimit    = adaptive.Options{Initial: 4, Min: 1, Max: 64}
	accountLimit = adaptive.Options{Initial: 64, Min: 4, Max: 1024}
)

// accountWindow: throttles of two blobs of an account this close are the
// account's.
const accountWindow = time.Second

// maxThrottleWait bounds how long one request waits out throttling in
// total before its answer goes back to the caller as an error (whose own
// retries then apply).
const maxThrottleWait = 10 * time.Minute

// throttles holds the adaptive limits of the blobs and accounts one
// client reaches. Safe for concurrent use.
type throttles struct {
	retryDelay, maxDelay time.Duration

	mu       sync.Mutex
	blobs    map[string]*blobLimitEntry
	accounts map[string]*accountEntry
}

type blobLimitEntry struct {
	lim  *adaptive.Limit
	acct *accountEntry
	used time.Time
}

type accountEntry struct {
	lim  *adaptive.Limit
	mu   sync.Mutex
	last map[string]time.Time // newest throttle per blob key
}

// Limits are adaptive limits shared by clients built from different
// options (StorageOptions.Limits).
type Limits struct{ t *throttles }

// NewLimits makes limits whose throttled requests wait, when Azure says
// not how long, from retryDelay doubling up to maxDelay (0: the
// StorageOptions defaults).
func NewLimits(retryDelay, maxDelay time.Duration) *Limits {
	d := StorageOptions{RetryDelay: retryDelay, MaxRetryDelay: maxDelay}.withDefaults()
	return &Limits{t: d.throttle}
}

func newThrottles(retryDelay, maxDelay time.Duration) *throttles {
	return &throttles{retryDelay: retryDelay, maxDelay: maxDelay,
		blobs: map[string]*blobLimitEntry{}, accounts: map[string]*accountEntry{}}
}

// keys names the blob and the account a URL addresses: the host and
// path without the query (where a SAS lives); an emulator's account is
// the first path segment.
func keys(u *url.URL) (blob, account string) {
	account = strings.ToLower(u.Host)
	if h := u.Hostname(); net.ParseIP(h) != nil || h == "localhost" {
		if seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); seg != "" {
			account += "/" + seg
		}
	}
	return account + "|" + u.Path, account
}

// entry is the blob limit for u (made on first use).
func (t *throttles) entry(u *url.URL) (string, *blobLimitEntry) {
	bk, ak := keys(u)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if e := t.blobs[bk]; e != nil {
		e.used = now
		return bk, e
	}
	a := t.accounts[ak]
	if a == nil {
		a = &accountEntry{lim: adaptive.New(accountLimit), last: map[string]time.Time{}}
		t.accounts[ak] = a
	}
	if len(t.blobs) >= 256 {
		t.prune(now)
	}
	e := &blobLimitEntry{lim: adaptive.New(blobLimit), acct: a, used: now}
	t.blobs[bk] = e
	return bk, e
}

// prune forgets blobs idle for 10 minutes, so a long-running process
// holds limits for the disks it moves, not every disk it ever read.
func (t *throttles) prune(now time.Time) {
	for k, e := range t.blobs {
		if s := e.lim.Stats(); s.InFlight == 0 && now.Sub(e.used) > 10*time.Minute {
			delete(t.blobs, k)
		}
	}
}

// noteThrottle tells the account of a blob's throttle; it shrinks when
// another of its blobs was throttled within accountWindow.
func (a *accountEntry) noteThrottle(blob string, now time.Time, retryAfter time.Duration) {
	a.mu.Lock()
	shared := false
	for k, at := range a.last {
		switch {
		case now.Sub(at) > accountWindow:
			delete(a.last, k)
		case k != blob:
			shared = true
		}
	}
	a.last[blob] = now
	a.mu.Unlock()
	if shared {
		a.lim.Throttle(retryAfter)
	}
}

// Do implements policy.Policy (per call, before the SDK's retries).
func (t *throttles) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	ctx := raw.Context()
	bk, e := t.entry(raw.URL)
	n := requestBytes(raw)
	var waited time.Duration
	for try := 1; ; try++ {
		bt, at, err := e.acquire(ctx, n)
		if err != nil {
			return nil, err
		}
		resp, err := req.Next()
		ra, throttled := throttledAnswer(resp, err)
		if !throttled {
			return e.finish(raw, resp, err, bt, at), err
		}
		if waited >= maxThrottleWait {
			// Given up: the answer goes back as it is (an error).
			bt.Done(0)
			at.Done(0)
			return resp, err
		}
		bt.Throttled(ra)
		at.Done(0)
		e.acct.noteThrottle(bk, time.Now(), ra)
		runtime.Drain(resp)
		wait := ra
		if wait <= 0 {
			wait = backoff.Delay(t.retryDelay, t.maxDelay, try)
		}
		waited += wait
		if err := backoff.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
	}
}

// acquire takes a slot of the blob, then of its account (in that order:
// a request waiting for its blob holds nothing of the account's).
func (e *blobLimitEntry) acquire(ctx context.Context, n int64) (bt, at *adaptive.Ticket, err error) {
	if bt, err = e.lim.Acquire(ctx, n); err != nil {
		return nil, nil, err
	}
	if at, err = e.acct.lim.Acquire(ctx, n); err != nil {
		bt.Done(0)
		return nil, nil, err
	}
	return bt, at, nil
}

// finish ends the request's tickets: at once for an answer already read
// (the SDK reads every body but a download's), when the body has been
// read or closed for a download.
func (e *blobLimitEntry) finish(raw *http.Request, resp *http.Response, err error, bt, at *adaptive.Ticket) *http.Response {
	sent := max(raw.ContentLength, 0)
	done := func(n int64) {
		bt.Done(sent + n)
		at.Done(sent + n)
	}
	if err != nil || resp == nil || raw.Method != http.MethodGet || !streamed(raw, resp) {
		done(0)
		return resp
	}
	b := &gatedBody{ReadCloser: resp.Body, done: done}
	// A body nobody closes would hold its slots: the request's context
	// ending frees them too (at once, from another goroutine, when it has
	// ended already: hence the lock).
	b.mu.Lock()
	b.stop = context.AfterFunc(raw.Context(), b.finish)
	b.mu.Unlock()
	resp.Body = b
	return resp
}

// streamed says the answer's body is left for the caller to read: a
// ranged blob download (the only GET this package streams) that
// succeeded.
func streamed(raw *http.Request, resp *http.Response) bool {
	q := raw.URL.Query()
	return resp.StatusCode/100 == 2 && q.Get("comp") == "" && q.Get("restype") == "" && rangeHeader(raw.Header) != ""
}

// rangeHeader is a request's x-ms-range (or Range) whatever its spelling:
// azcore sets headers with lower-case keys, which Header.Get misses.
func rangeHeader(h http.Header) string {
	for _, name := range []string{"x-ms-range", "range"} {
		for k, v := range h {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0]
			}
		}
	}
	return ""
}

// gatedBody ends a download's tickets once its body is read or closed,
// counting the bytes that came.
type gatedBody struct {
	io.ReadCloser
	n    atomic.Int64 // read by finish, which the context may run
	done func(int64)
	mu   sync.Mutex // guards stop
	stop func() bool
	once sync.Once
}

func (b *gatedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if err != nil {
		b.finish()
	}
	return n, err
}

func (b *gatedBody) Close() error {
	err := b.ReadCloser.Close()
	b.finish()
	return err
}

func (b *gatedBody) finish() {
	b.once.Do(func() {
		b.mu.Lock()
		stop := b.stop
		b.mu.Unlock()
		if stop != nil {
			stop()
		}
		b.done(b.n.Load())
	})
}

// throttledAnswer says whether resp is throttling (429, or 503 Server
// Busy), and the wait the service asked for.
func throttledAnswer(resp *http.Response, err error) (time.Duration, bool) {
	if err != nil || resp == nil {
		return 0, false
	}
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	return retryAfter(resp.Header, time.Now()), true
}

// retryAfter reads the wait an answer asks for: retry-after-ms,
// x-ms-retry-after-ms, or Retry-After in seconds or as an HTTP date;
// 0 when none (or a date already past).
func retryAfter(h http.Header, now time.Time) time.Duration {
	for _, k := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v, err := strconv.ParseInt(strings.TrimSpace(h.Get(k)), 10, 64); err == nil && v > 0 {
			return time.Duration(v) * time.Millisecond
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// requestBytes is how many bytes a request moves, as far as it says:
// a ranged read's range (a range list's range is no data), or the body
// it sends.
func requestBytes(raw *http.Request) int64 {
	if raw.Method != http.MethodGet {
		return max(raw.ContentLength, 0)
	}
	if raw.URL.Query().Get("comp") != "" {
		return 0
	}
	from, to, ok := strings.Cut(strings.TrimPrefix(rangeHeader(raw.Header), "bytes="), "-")
	if !ok {
		return 0
	}
	a, err1 := strconv.ParseInt(from, 10, 64)
	b, err2 := strconv.ParseInt(to, 10, 64)
	if err1 != nil || err2 != nil || b < a {
		return 0
	}
	return b - a + 1
}

// Throttling is what Azure's throttling did to one disk's requests.
type Throttling struct {
	// Throttled counts the answers 429 or 503 to the disk's requests
	// since this client first reached it; Last is the newest (of the
	// disk, or of its storage account).
	Throttled int64
	Last      time.Time
	// Parallel is how many requests the disk may have in flight now,
	// and RateCap the bytes per second it is held to since a throttle
	// (0: none).
	Parallel int
	RateCap  float64
}

// throttling reads the limits of the blob u addresses.
func (t *throttles) throttling(u string) Throttling {
	pu, err := url.Parse(u)
	if t == nil || err != nil {
		return Throttling{}
	}
	_, e := t.entry(pu)
	s, a := e.lim.Stats(), e.acct.lim.Stats()
	th := Throttling{Throttled: s.Throttles, Last: s.LastThrottle, Parallel: min(s.Limit, a.Limit), RateCap: s.RateCap}
	if a.LastThrottle.After(th.Last) {
		th.Last = a.LastThrottle
	}
	if a.RateCap > 0 && (th.RateCap == 0 || a.RateCap < th.RateCap) {
		th.RateCap = a.RateCap
	}
	return th
}

package adaptive

import (
	"container/heap"
	"math"
	"testing"
	"time"
)

// The limit is checked against simulated resources on a simulated clock:
// readers that always have a request to send (as the engine's do), and a
// resource that answers after a latency, over a link of some bandwidth,
// and throttles above a rate, as Azure does. The simulation calls the
// limit's own decision methods, so the test measures the controller, not
// the machine's timers.

const mib = 1 << 20

// resource is a simulated blob behind a link.
type resource struct {
	latency   time.Duration // fixed part of every answer
	bandwidth float64       // bytes/s of the link, shared in FIFO order (0: unbounded)
	rate      float64       // throttles above this many bytes/s (0: never)
	burst     float64       // seconds of rate the resource lets through at once
	linkFree  time.Time
	tokens    float64
	last      time.Time
}

// answer says when a request of n bytes sent at t completes, and whether
// it is throttled (with its Retry-After, in whole seconds as Azure sends).
func (r *resource) answer(t time.Time, n int64) (done time.Time, throttled bool, retryAfter time.Duration) {
	if r.rate > 0 {
		if r.last.IsZero() {
			r.last, r.tokens = t, r.rate*r.burst
		}
		r.tokens = math.Min(r.tokens+t.Sub(r.last).Seconds()*r.rate, r.rate*r.burst)
		r.last = t
		if r.tokens < 0 {
			secs := math.Max(1, math.Ceil(-r.tokens/r.rate))
			return t.Add(time.Millisecond), true, time.Duration(secs) * time.Second
		}
		r.tokens -= float64(n)
	}
	done = t.Add(r.latency)
	if r.bandwidth > 0 {
		start := r.linkFree
		if start.Before(t) {
			start = t
		}
		r.linkFree = start.Add(time.Duration(float64(n) / r.bandwidth * float64(time.Second)))
		if r.linkFree.After(done) {
			done = r.linkFree
		}
	}
	return done, false, 0
}

type event struct {
	at     time.Time
	reader int
	kind   int // evReady, evSend, evAnswer
	ticket *Ticket
	thr    bool
	ra     time.Duration
}

const (
	evReady  = iota // the reader wants to send
	evSend          // the rate cap's wait is over: the request goes out
	evAnswer        // the answer arrives
)

type events []event

func (e events) Len() int           { return len(e) }
func (e events) Less(i, j int) bool { return e[i].at.Before(e[j].at) }
func (e events) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)        { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// simResult is what a simulated transfer did in its second half (after
// the limit had time to settle).
type simResult struct {
	rate      float64 // bytes/s that completed
	requests  int
	throttled int
	limit     Stats
}

// simulate runs readers readers sending n-byte requests through a new
// Limit to res for d of simulated time.
func simulate(t *testing.T, res *resource, readers int, n int64, d time.Duration, o Options) simResult {
	return simulateFrom(t, res, readers, n, d, d/2, o)
}

// simulateFrom measures from the time from on.
func simulateFrom(t *testing.T, res *resource, readers int, n int64, d, from time.Duration, o Options) simResult {
	t.Helper()
	now := time.Unix(1_000_000, 0)
	o.Now = func() time.Time { return now }
	l := New(o)
	var q events
	for i := range readers {
		heap.Push(&q, event{at: now, reader: i, kind: evReady})
	}
	var queued []int // readers waiting for a slot
	half := now.Add(from)
	end := now.Add(d)
	var out simResult
	var bytes int64
	try := func(reader int) {
		ok, wait := l.tryStart(now, n)
		switch {
		case ok:
			heap.Push(&q, event{at: now.Add(wait), reader: reader, kind: evSend, ticket: &Ticket{l: l, start: now.Add(wait)}})
		case wait > 0:
			heap.Push(&q, event{at: now.Add(wait), reader: reader, kind: evReady})
		default:
			queued = append(queued, reader)
		}
	}
	for q.Len() > 0 {
		e := heap.Pop(&q).(event)
		if e.at.After(end) {
			break
		}
		now = e.at
		switch e.kind {
		case evReady:
			try(e.reader)
		case evSend:
			done, thr, ra := res.answer(now, n)
			heap.Push(&q, event{at: done, reader: e.reader, kind: evAnswer, ticket: e.ticket, thr: thr, ra: ra})
		case evAnswer:
			late := !now.Before(half)
			if late {
				out.requests++
			}
			if e.thr {
				if late {
					out.throttled++
				}
				l.throttle(now, e.ra)
				l.release()
			} else {
				l.finish(now, n, now.Sub(e.ticket.start))
				if late {
					bytes += n
				}
			}
			// The reader is ready at once, and a freed slot lets the
			// queued readers try again.
			wake := append(queued, e.reader)
			queued = nil
			for _, r := range wake {
				try(r)
			}
		}
	}
	out.rate = float64(bytes) / (d - from).Seconds()
	out.limit = l.Stats()
	return out
}

func TestLimitSettlesUnderAThrottledRateWithFewThrottles(t *testing.T) {
	const rate = 40 * mib
	res := &resource{latency: 20 * time.Millisecond, bandwidth: 1 << 30, rate: rate, burst: 0.5}
	got := simulate(t, res, 16, mib, 120*time.Second, Options{})
	t.Logf("rate %.1f MiB/s, %d requests, %d throttled, limit %+v", got.rate/mib, got.requests, got.throttled, got.limit)
	if got.rate < 0.75*rate || got.rate > 1.02*rate {
		t.Errorf("settled at %.1f MiB/s, want near the resource's %d MiB/s", got.rate/mib, rate/mib)
	}
	if got.throttled*50 > got.requests {
		t.Errorf("%d of %d requests throttled: more than 2%%", got.throttled, got.requests)
	}
}

func TestLimitGrowsWhileThroughputGrows(t *testing.T) {
	// A long link: 50 ms per answer, 400 MiB/s of bandwidth. Throughput
	// grows with every request in flight up to about 20.
	res := &resource{latency: 50 * time.Millisecond, bandwidth: 400 * mib}
	got := simulate(t, res, 32, mib, 60*time.Second, Options{Initial: 4, Max: 64})
	t.Logf("rate %.1f MiB/s, limit %+v", got.rate/mib, got.limit)
	if got.limit.Limit < 16 {
		t.Errorf("limit %d: it did not grow while throughput grew", got.limit.Limit)
	}
	if got.rate < 0.8*400*mib {
		t.Errorf("rate %.1f MiB/s, want most of the link's 400", got.rate/mib)
	}
	if got.limit.Throttles != 0 || got.limit.RateCap != 0 {
		t.Errorf("throttled without a throttling resource: %+v", got.limit)
	}
}

func TestLimitStaysSmallWhenMoreRequestsOnlyQueue(t *testing.T) {
	// A short link that one request fills: more in flight only adds
	// latency, so the limit must not climb to the readers' number.
	res := &resource{latency: time.Millisecond, bandwidth: 100 * mib}
	got := simulate(t, res, 32, mib, 60*time.Second, Options{Initial: 4, Max: 64})
	t.Logf("rate %.1f MiB/s, limit %+v", got.rate/mib, got.limit)
	if got.limit.Limit > 8 {
		t.Errorf("limit %d: it grew although throughput could not", got.limit.Limit)
	}
	if got.rate < 0.9*100*mib {
		t.Errorf("rate %.1f MiB/s, want the link's 100", got.rate/mib)
	}
}

func TestLimitSettlesUnderAThrottledRateOnALongLink(t *testing.T) {
	// 100 ms per answer: the rate needs several requests in flight, so
	// the cuts a throttle makes must grow back.
	const rate = 40 * mib
	res := &resource{latency: 100 * time.Millisecond, bandwidth: 1 << 30, rate: rate, burst: 0.5}
	got := simulate(t, res, 32, mib, 120*time.Second, Options{})
	t.Logf("rate %.1f MiB/s, %d requests, %d throttled, limit %+v", got.rate/mib, got.requests, got.throttled, got.limit)
	if got.rate < 0.75*rate || got.rate > 1.02*rate {
		t.Errorf("settled at %.1f MiB/s, want near the resource's %d MiB/s", got.rate/mib, rate/mib)
	}
	if got.throttled*50 > got.requests {
		t.Errorf("%d of %d requests throttled: more than 2%%", got.throttled, got.requests)
	}
}

func TestLimitLearnsAThrottledRateWithinSeconds(t *testing.T) {
	// The proxy test's case: a fast link, 1 MiB reads by 8 readers, a
	// resource throttling above 16 MiB/s with 1 s Retry-Afters: settled
	// after 4 s, with a handful of throttles in all.
	const rate = 16 * mib
	res := &resource{latency: 2 * time.Millisecond, bandwidth: 200 * mib, rate: rate, burst: 0.25}
	got := simulateFrom(t, res, 8, mib, 12*time.Second, 4*time.Second, Options{})
	t.Logf("rate %.1f MiB/s, %d requests, %d throttled, limit %+v", got.rate/mib, got.requests, got.throttled, got.limit)
	if got.rate < 0.75*rate {
		t.Errorf("%.1f MiB/s from 4 s to 12 s, want most of %d", got.rate/mib, rate/mib)
	}
	if got.limit.Throttles > 6 {
		t.Errorf("%d throttled in 12 s", got.limit.Throttles)
	}
}

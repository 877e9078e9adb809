// Package adaptive limits the requests one remote resource (a blob, a
// storage account) gets at once, and the bytes per second it moves, by
// watching how it answers instead of trusting a number set by hand.
//
// Azure targets about 60 MiB/s and 500 requests/s per blob and answers
// 429 or 503 (often with Retry-After) above them or above the account's
// limits; phase 1 also competes with the running VM's own I/O on the
// disk. A fixed number of parallel requests is either too few on a long
// link or too many for a busy blob, so a Limit moves:
//
//   - it grows by one request while the throughput of a measurement
//     window grew with the last step and no throttling was seen; a step
//     that bought nothing is taken back and the next probe waits;
//   - it shrinks by a quarter when the resource throttles, and by one
//     when the latency per byte doubles over the best seen while the
//     throughput does not grow (more requests only queue);
//   - a throttled answer also sets a rate cap just under the rate that
//     was throttled, which then creeps up (fast far below it, slowly near
//     it), and Retry-After holds every new request of the resource back
//     until then.
//
// One cut per window: the answers of requests already in flight when the
// resource started refusing are one episode, not several.
package adaptive

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/failback/failback/internal/backoff"
	"github.com/failback/failback/internal/pace"
)

// Options configure a Limit.
type Options struct {
	// Initial, Min and Max bound the requests in flight (defaults 4, 1,
	// 64).
	Initial, Min, Max int
	// Window is how long throughput and latency are measured before the
	// limit moves (default 500 ms).
	Window time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Min <= 0 {
		o.Min = 1
	}
	if o.Max <= 0 {
		o.Max = 64
	}
	o.Max = max(o.Max, o.Min)
	if o.Initial <= 0 {
		o.Initial = 4
	}
	o.Initial = min(max(o.Initial, o.Min), o.Max)
	if o.Window <= 0 {
		o.Window = 500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// The controller's constants (see the package comment).
const (
	gainNeeded  = 1.05             // a step must buy 5% more throughput to stay
	holdAfter   = 8                // windows before probing again after a useless step
	latencyRise = 2.0              // latency per byte this far above the best seen is queueing
	capCut      = 0.85             // a throttled rate is capped at 85% of itself
	capNear     = 0.8              // below this share of the throttled rate the cap climbs fast
	capFast     = 1.10             // per window, far under the throttled rate
	capSlow     = 1.01             // per window, near it, for plateau windows
	capProbe    = 1.25             // per window, while no throttled rate is known
	plateau     = 6                // windows near the throttled rate before probing faster
	minCap      = 64 << 10         // a cap never goes below 64 KiB/s
	cycleMax    = 30 * time.Second // a longer time between throttles says little about the rate
	capBurst    = 50 * time.Millisecond
	latUnit     = 64 << 10 // latency is per MiB, small requests counted as 64 KiB
)

// Limit is the adaptive limit of one resource. Safe for concurrent use.
type Limit struct {
	o Options

	mu       sync.Mutex
	limit    int
	inflight int
	waiters  []chan struct{}
	pause    time.Time
	rateCap  *pace.Pacer
	capRate  float64 // the cap's rate (0: none)
	wmax     float64 // the rate that was throttled last, when known (the cap's)
	calm     int     // windows since the last throttle
	// lastPaced is when the cap last held a request back.
	lastPaced time.Time

	win       window
	lastRate  float64 // throughput of the last window with requests
	prevRate  float64 // throughput before the last growth step
	prevLimit int
	grew      bool
	hold      int
	baseLat   float64 // best latency per MiB seen (drifts up slowly)
	lastCut   time.Time
	sinceCut  int64 // bytes moved since lastCut

	throttles    int64
	lastThrottle time.Time
}

// window gathers one measurement period.
type window struct {
	start     time.Time
	bytes     int64
	reqs      int
	lat       float64 // sum of the requests' seconds per MiB
	peak      int     // most requests in flight
	paced     bool    // the rate cap held a request back
	throttled bool
	idle      time.Duration // of it, paused by a Retry-After
}

// New returns a limit at o.Initial requests and no rate cap.
func New(o Options) *Limit {
	o = o.withDefaults()
	// The cap keeps little idle credit: after a Retry-After, a burst
	// would meet a resource that only just let go.
	l := &Limit{o: o, limit: o.Initial, rateCap: pace.NewBurst(1, capBurst)}
	l.rateCap.SetRate(o.Now(), 0)
	l.win.start = o.Now()
	return l
}

// Ticket is one request let through; end it with Done or Throttled.
type Ticket struct {
	l     *Limit
	start time.Time
	once  sync.Once
}

// Acquire waits until the resource may take one more request of n bytes
// (0 when unknown or none): no Retry-After pending, fewer requests in
// flight than the limit, and the rate cap's pace.
func (l *Limit) Acquire(ctx context.Context, n int64) (*Ticket, error) {
	for {
		l.mu.Lock()
		now := l.o.Now()
		ok, wait := l.tryStart(now, n)
		if ok {
			l.mu.Unlock()
			if err := backoff.Sleep(ctx, wait); err != nil {
				l.mu.Lock()
				l.release()
				l.mu.Unlock()
				return nil, err
			}
			return &Ticket{l: l, start: now.Add(wait)}, nil
		}
		if wait > 0 {
			l.mu.Unlock()
			if err := backoff.Sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		ch := make(chan struct{})
		l.waiters = append(l.waiters, ch)
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			l.mu.Lock()
			if !l.dropWaiter(ch) {
				// Woken as it gave up: the turn goes to the next.
				l.wake()
			}
			l.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

// tryStart lets a request of n bytes start at now (ok, after waiting
// wait for the rate cap), or says how long to wait (a Retry-After) or,
// with wait 0, that the request must queue for a slot.
func (l *Limit) tryStart(now time.Time, n int64) (ok bool, wait time.Duration) {
	l.roll(now)
	if now.Before(l.pause) {
		return false, l.pause.Sub(now)
	}
	if l.inflight >= l.limit {
		return false, 0
	}
	l.inflight++
	l.win.peak = max(l.win.peak, l.inflight)
	if l.capRate > 0 {
		if wait = l.rateCap.Take(now, n); wait > 0 {
			l.win.paced, l.lastPaced = true, now
		}
	}
	return true, wait
}

func (l *Limit) dropWaiter(ch chan struct{}) bool {
	for i, w := range l.waiters {
		if w == ch {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// wake lets queued requests try again, as many as there are free slots.
func (l *Limit) wake() {
	for free := l.limit - l.inflight; free > 0 && len(l.waiters) > 0; free-- {
		close(l.waiters[0])
		l.waiters = l.waiters[1:]
	}
}

func (l *Limit) release() {
	l.inflight--
	l.wake()
}

// Done ends a request that moved n bytes.
func (t *Ticket) Done(n int64) {
	t.once.Do(func() {
		l := t.l
		l.mu.Lock()
		defer l.mu.Unlock()
		now := l.o.Now()
		l.finish(now, n, now.Sub(t.start))
	})
}

// Throttled ends a request the resource refused because of its load
// (429, 503): the limit shrinks, and with retryAfter > 0 no new request
// starts before it has passed.
func (t *Ticket) Throttled(retryAfter time.Duration) {
	t.once.Do(func() {
		l := t.l
		l.mu.Lock()
		defer l.mu.Unlock()
		now := l.o.Now()
		l.throttle(now, retryAfter)
		l.release()
	})
}

// Throttle records a throttled answer that no ticket of this limit
// carried (a storage account told of its disks' answers).
func (l *Limit) Throttle(retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.throttle(l.o.Now(), retryAfter)
}

func (l *Limit) finish(now time.Time, n int64, d time.Duration) {
	l.roll(now)
	l.sinceCut += n
	if n > 0 && d > 0 {
		l.win.reqs++
		l.win.bytes += n
		l.win.lat += d.Seconds() / float64(max(n, latUnit)) * (1 << 20)
	}
	l.release()
}

func (l *Limit) throttle(now time.Time, retryAfter time.Duration) {
	l.roll(now)
	l.throttles++
	l.lastThrottle = now
	l.win.throttled = true
	if retryAfter > 0 && now.Add(retryAfter).After(l.pause) {
		// Time paused is no time to measure a rate in.
		l.win.idle += now.Add(retryAfter).Sub(maxTime(now, l.pause))
		l.pause = now.Add(retryAfter)
	}
	if !l.lastCut.IsZero() && now.Sub(l.lastCut) < l.o.Window {
		return
	}
	// The rate that was throttled: what moved since the last throttle
	// (pauses included: over a cycle of bursts and waits that is what
	// the resource allows), or what the last window measured, whichever
	// says more (each can only say too little).
	r := l.lastRate
	if active := now.Sub(l.win.start) - l.win.idle; active >= l.o.Window/4 && l.win.bytes > 0 {
		r = max(r, float64(l.win.bytes)/active.Seconds())
	}
	if since := now.Sub(l.lastCut); !l.lastCut.IsZero() && since >= l.o.Window && since <= cycleMax {
		r = max(r, float64(l.sinceCut)/since.Seconds())
	}
	paced := l.capRate > 0 && l.lastPaced.After(l.lastCut)
	l.lastCut, l.sinceCut = now, 0
	if l.capRate > 0 && (r == 0 || r > l.capRate) {
		r = l.capRate // the rate throttled is the one it was held to
	}
	// Only a throttle met while the cap held requests back says at what
	// rate the resource refuses (what moved, at most the cap): a burst
	// after a wait says little, and the cap then probes quickly.
	l.wmax = 0
	if paced {
		l.wmax = r
	}
	if r > 0 {
		l.setCap(now, r*capCut)
	}
	l.calm = 0
	l.limit = max(l.o.Min, l.limit-max(1, l.limit/4))
	l.grew, l.hold = false, 2
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (l *Limit) setCap(now time.Time, rate float64) {
	l.capRate = max(rate, minCap)
	l.rateCap.SetRate(now, l.capRate)
}

// roll closes the measurement window when it is over and moves the limit.
func (l *Limit) roll(now time.Time) {
	el := now.Sub(l.win.start)
	if el < l.o.Window {
		return
	}
	w := l.win
	l.win = window{start: now, peak: l.inflight}
	if l.pause.After(now) {
		// The rest of a Retry-After belongs to the next window.
		carry := l.pause.Sub(now)
		w.idle -= carry
		l.win.idle = carry
	}
	active := el - w.idle
	before := l.lastRate
	var rate, lat float64
	if w.reqs > 0 && active >= l.o.Window/4 {
		rate = float64(w.bytes) / active.Seconds()
		l.lastRate = rate
		lat = w.lat / float64(w.reqs)
		if l.baseLat == 0 || lat < l.baseLat {
			l.baseLat = lat
		} else {
			l.baseLat *= 1.01
		}
	}
	if w.throttled {
		return
	}
	l.calm++
	if l.capRate > 0 && w.paced {
		// The cap held requests back: it climbs by a step per window's
		// length (a long request is a long window): fast while no
		// throttled rate is known or far under it, slowly near it, then
		// faster again the longer nothing is throttled.
		step := capProbe
		switch {
		case l.wmax == 0:
		case l.capRate < capNear*l.wmax:
			step = capFast
		default:
			step = min(capSlow+0.01*float64(max(l.calm-plateau, 0)), capFast)
		}
		l.setCap(now, l.capRate*math.Pow(step, min(el.Seconds()/l.o.Window.Seconds(), 64)))
	}
	saturated := w.peak >= l.limit && !w.paced && rate > 0
	switch {
	case !saturated:
		l.grew = false
	case l.hold > 0:
		l.hold--
	case l.grew && rate < l.prevRate*gainNeeded:
		l.limit, l.grew, l.hold = l.prevLimit, false, holdAfter
	case l.baseLat > 0 && lat > latencyRise*l.baseLat && rate < before*gainNeeded:
		l.limit, l.grew, l.hold = max(l.o.Min, l.limit-1), false, 2
	case l.limit < l.o.Max:
		l.prevRate, l.prevLimit, l.grew = rate, l.limit, true
		l.limit++
		l.wake()
	}
}

// Stats is what a Limit does now.
type Stats struct {
	// Limit is how many requests may be in flight; InFlight how many are.
	Limit, InFlight int
	// RateCap is the rate cap in bytes per second (0: none).
	RateCap float64
	// Rate is the throughput of the last measured window.
	Rate float64
	// Throttles counts throttled answers; LastThrottle is the newest.
	Throttles    int64
	LastThrottle time.Time
	// PausedUntil is when a Retry-After ends (zero or past: none).
	PausedUntil time.Time
}

// Stats says what the limit does now.
func (l *Limit) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Limit: l.limit, InFlight: l.inflight, RateCap: l.capRate, Rate: l.lastRate,
		Throttles: l.throttles, LastThrottle: l.lastThrottle, PausedUntil: l.pause}
}

// Package pace spaces a flow of bytes to a rate: the engine's bandwidth
// limit (one Pacer shared by every disk of a failback, so the limit holds
// for the whole link) and the rate cap the adaptive limits of the Azure
// client set after Azure throttled them.
//
// Takers take first and sleep off the debt, so the long-run rate is exact
// whatever the piece size, and an idle period earns at most a burst of
// credit (Burst unless NewBurst says otherwise).
package pace

import (
	"context"
	"sync"
	"time"

	"github.com/failback/failback/internal/backoff"
)

// Burst is the credit an idle pacer keeps: a quarter second of its rate.
const Burst = 250 * time.Millisecond

// Pacer spaces takers to a rate in bytes per second. The nil *Pacer does
// not pace. Safe for concurrent use.
type Pacer struct {
	mu     sync.Mutex
	rate   float64
	burst  time.Duration
	tokens float64
	last   time.Time
}

// New returns a pacer at bytesPerSec, or nil (no pacing) when it is not
// positive.
func New(bytesPerSec float64) *Pacer { return NewBurst(bytesPerSec, Burst) }

// NewBurst is New with an idle credit of burst instead of Burst.
func NewBurst(bytesPerSec float64, burst time.Duration) *Pacer {
	if bytesPerSec <= 0 {
		return nil
	}
	return &Pacer{rate: bytesPerSec, burst: burst}
}

// Rate is the current rate (0: not pacing).
func (p *Pacer) Rate() float64 {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// SetRate changes the rate from now on; 0 or less stops pacing (and
// forgets any debt).
func (p *Pacer) SetRate(now time.Time, bytesPerSec float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refill(now)
	p.rate = max(bytesPerSec, 0)
	if p.rate == 0 {
		p.tokens = 0
	}
}

func (p *Pacer) refill(now time.Time) {
	if p.last.IsZero() {
		p.last = now
	}
	if p.rate > 0 {
		p.tokens = min(p.tokens+now.Sub(p.last).Seconds()*p.rate, p.rate*p.burst.Seconds())
	}
	p.last = now
}

// Take takes n bytes at now and returns how long the taker must wait
// before it moves them (0: at once).
func (p *Pacer) Take(now time.Time, n int64) time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refill(now)
	if p.rate == 0 {
		return 0
	}
	p.tokens -= float64(n)
	if p.tokens >= 0 {
		return 0
	}
	return time.Duration(-p.tokens / p.rate * float64(time.Second))
}

// Wait takes n bytes and sleeps off the debt, or returns when ctx ends.
func (p *Pacer) Wait(ctx context.Context, n int64) error {
	if p == nil {
		return ctx.Err()
	}
	return backoff.Sleep(ctx, p.Take(time.Now(), n))
}

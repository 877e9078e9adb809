package engine

import (
	"context"
	"sync"
	"time"

	"github.com/failback/failback/internal/backoff"
)

// limiter paces source reads to a byte rate. Reads take tokens first and
// sleep off the debt, so the long-run rate is exact whatever the block
// size, and an idle period earns at most a quarter second of burst.
type limiter struct {
	rate   float64 // bytes per second
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLimiter(bytesPerSec int64) *limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	return &limiter{rate: float64(bytesPerSec), last: time.Now()}
}

// wait blocks until n more bytes fit the rate, or ctx ends.
func (l *limiter) wait(ctx context.Context, n int64) error {
	if l == nil {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.tokens+now.Sub(l.last).Seconds()*l.rate, l.rate/4)
	l.last = now
	l.tokens -= float64(n)
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	return backoff.Sleep(ctx, d)
}

// Package backoff is the retry pacing the Azure reader and the agent
// client share: an exponential, capped, jittered delay, and a sleep that
// ends with its context (which the engine's bandwidth limiter and the lab
// VM writers' polling use too).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is the wait before the nth retry (n >= 1): base doubled per retry,
// capped at maxDelay (also when base is not positive or the doubling
// overflows), then a random point in its upper half, so parallel readers
// do not retry in lockstep while the wait still grows.
func Delay(base, maxDelay time.Duration, n int) time.Duration {
	d := base << min(max(n-1, 0), 16)
	if d > maxDelay || d <= 0 {
		d = maxDelay
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits for d, or returns ctx.Err() as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

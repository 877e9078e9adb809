package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDelayGrowsIsCappedAndJittered: each retry's delay lies in the upper
// half of base<<(n-1), capped at the maximum, also for absurd retry
// counts and a zero base; the jitter actually varies.
func TestDelayGrowsIsCappedAndJittered(t *testing.T) {
	const base, maxd = 100 * time.Millisecond, 2 * time.Second
	for n, want := range map[int]time.Duration{1: base, 2: 2 * base, 3: 4 * base, 5: 16 * base, 6: maxd, 40: maxd, 1 << 30: maxd} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := Delay(base, maxd, n)
			if d < want/2 || d > want {
				t.Fatalf("retry %d: %v, want within [%v, %v]", n, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("retry %d: only %d distinct delays in 200: no jitter", n, len(seen))
		}
	}
	if d := Delay(0, maxd, 3); d < maxd/2 || d > maxd {
		t.Errorf("zero base: %v, want the maximum's range", d)
	}
	if d := Delay(time.Hour<<20, maxd, 16); d > maxd {
		t.Errorf("overflowing doubling: %v", d)
	}
	if d := Delay(0, 0, 1); d != 0 {
		t.Errorf("no delay configured: %v", d)
	}
}

// TestSleepEndsWithItsContext: a cancelled context ends a long sleep at
// once with its error; an open one sleeps the time and returns nil.
func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	done := make(chan error, 1)
	go func() { done <- Sleep(ctx, time.Hour) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled sleep: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a cancelled sleep did not return")
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("zero sleep on a cancelled context: %v", err)
	}
}

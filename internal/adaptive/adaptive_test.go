package adaptive

import (
	"context"
	"testing"
	"time"
)

func TestAcquireQueuesAtTheLimitAndHandsTheSlotOn(t *testing.T) {
	l := New(Options{Initial: 1, Max: 1})
	ctx := context.Background()
	a, err := l.Acquire(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Ticket)
	go func() {
		b, err := l.Acquire(ctx, 0)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	select {
	case <-got:
		t.Fatal("a second request started past the limit of 1")
	case <-time.After(50 * time.Millisecond):
	}
	a.Done(1 << 20)
	a.Done(1 << 20) // a second end changes nothing
	select {
	case b := <-got:
		b.Done(0)
	case <-time.After(5 * time.Second):
		t.Fatal("the queued request never started after the slot was freed")
	}
	if s := l.Stats(); s.InFlight != 0 {
		t.Fatalf("in flight %d after every ticket ended", s.InFlight)
	}
}

func TestAcquireGivesUpWithItsContextAndLeaksNoSlot(t *testing.T) {
	l := New(Options{Initial: 1, Max: 1})
	a, _ := l.Acquire(context.Background(), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, 0); err == nil {
		t.Fatal("a queued request outlived its context")
	}
	a.Done(0)
	b, err := l.Acquire(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	b.Done(0)
	if s := l.Stats(); s.InFlight != 0 || s.Limit != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestThrottledHoldsNewRequestsForRetryAfterAndShrinks(t *testing.T) {
	l := New(Options{Initial: 8})
	a, _ := l.Acquire(context.Background(), 0)
	a.Throttled(150 * time.Millisecond)
	s := l.Stats()
	if s.Limit != 6 || s.Throttles != 1 || s.InFlight != 0 {
		t.Fatalf("after a throttle: %+v, want limit 6 (a quarter less), 1 throttle, none in flight", s)
	}
	start := time.Now()
	b, err := l.Acquire(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	b.Done(0)
	if took := time.Since(start); took < 140*time.Millisecond {
		t.Fatalf("a request started %v after a Retry-After of 150ms", took)
	}
	// An account told of its disks' answers shrinks as well, once per window.
	l.Throttle(0)
	l.Throttle(0)
	if s := l.Stats(); s.Throttles != 3 || s.Limit < 4 {
		t.Fatalf("%+v", s)
	}
}

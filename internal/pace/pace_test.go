package pace

import (
	"testing"
	"time"
)

func TestTakeSpacesBytesToTheRate(t *testing.T) {
	p := New(1000)
	t0 := time.Unix(0, 0)
	// The first quarter second of credit is earned by waiting, never given.
	if d := p.Take(t0, 500); d != 500*time.Millisecond {
		t.Fatalf("first take of 500 B at 1000 B/s: wait %v, want 500ms", d)
	}
	// Debt accumulates: the next taker waits behind the first.
	if d := p.Take(t0, 500); d != time.Second {
		t.Fatalf("second take: wait %v, want 1s", d)
	}
	// A long idle period earns at most Burst of credit.
	t1 := t0.Add(time.Hour)
	if d := p.Take(t1, 250); d != 0 {
		t.Fatalf("take within the burst after idling: wait %v, want 0", d)
	}
	if d := p.Take(t1, 100); d != 100*time.Millisecond {
		t.Fatalf("take past the burst: wait %v, want 100ms", d)
	}
}

func TestSetRateChangesThePaceAndZeroStopsIt(t *testing.T) {
	p := New(1000)
	t0 := time.Unix(0, 0)
	p.Take(t0, 1000)
	p.SetRate(t0, 0)
	if d := p.Take(t0, 1<<30); d != 0 {
		t.Fatalf("rate 0 paces: wait %v", d)
	}
	p.SetRate(t0, 2000)
	if d := p.Take(t0, 1000); d != 500*time.Millisecond {
		t.Fatalf("after SetRate(2000) with the debt forgotten: wait %v, want 500ms", d)
	}
	if got := p.Rate(); got != 2000 {
		t.Fatalf("Rate = %v", got)
	}
}

func TestNilPacerNeverWaits(t *testing.T) {
	var p *Pacer
	if New(0) != nil || p.Take(time.Now(), 1<<40) != 0 || p.Rate() != 0 {
		t.Fatal("a nil pacer paced")
	}
}

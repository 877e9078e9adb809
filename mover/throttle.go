package mover

import (
	"time"

	"github.com/failback/failback/azure"
)

// A mover reads Azure under the same adaptive limits as a driver (azure
// throttle.go); what Azure's throttling does to a call's source rides on
// its progress frames, so the driver shows "throttled by Azure" for the
// disks its hosts' movers read as for those it reads itself.

// throttleBody is azure.Throttling as it crosses: the throttled answers
// since the call opened its source, and the newest one as an age (the
// host's clock and the driver's need not agree, so a duration crosses,
// never a time).
type throttleBody struct {
	Throttled int64         `json:"throttled,omitempty"`
	Ago       time.Duration `json:"ago_ns,omitempty"` // 0: none yet
	Parallel  int           `json:"parallel,omitempty"`
	RateCap   float64       `json:"rate_cap,omitempty"`
}

// throttleSince reads r's throttling as it crosses, counted from now
// (a session's calls share their limits: earlier calls' throttles are
// not this one's).
func throttleSince(r throttleReporter) func() *throttleBody {
	base := r.Throttling().Throttled
	return func() *throttleBody { return throttleBodyOf(r.Throttling(), base, time.Now()) }
}

// throttleBodyOf is th as it crosses at now, counting from base.
func throttleBodyOf(th azure.Throttling, base int64, now time.Time) *throttleBody {
	b := &throttleBody{Throttled: th.Throttled - base, Parallel: th.Parallel, RateCap: th.RateCap}
	if !th.Last.IsZero() {
		b.Ago = max(now.Sub(th.Last), time.Nanosecond)
	}
	return b
}

// throttling is the body as this side's clock has it at now.
func (b throttleBody) throttling(now time.Time) azure.Throttling {
	th := azure.Throttling{Throttled: b.Throttled, Parallel: b.Parallel, RateCap: b.RateCap}
	if b.Ago > 0 {
		th.Last = now.Add(-b.Ago)
	}
	return th
}

// throttleReporter is a source that says what Azure's throttling does
// to its reads (azure.SnapshotSource).
type throttleReporter interface{ Throttling() azure.Throttling }

package workflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/failback/failback/internal/backoff"
)

// During phase 2 the Azure VMs are off and the on-premises VMs not yet
// started: every minute is downtime, and nobody may be watching. A
// failure there (a storage call that failed its retries, a host that did
// not answer) is retried by the driver itself, with backoff, for
// [engine] downtime_retry; each retry resumes from the journals, so
// nothing is redone. Only when the window runs out does the job stop,
// saying exactly what the operator can do: resume (retry phase 2) or go
// back to Azure.

// inDowntime says the record is in phase 2: the Azure VMs are being or
// were shut down by this job and the on-premises VMs do not run yet.
func inDowntime(r *jobRecord) bool {
	switch r.State {
	case StateShutdown, StatePhase2, StateVerify, StateStarting:
		return r.Flow == flowComplete || r.Flow == flowStart
	}
	return false
}

// retryDowntime decides, after flow failed with err, whether to run it
// again: only in phase 2 and within the retry window since the first
// failure. It waits the backoff first and says so in the log. false means
// the job stops (failed) as any other.
func (j *job) retryDowntime(ctx context.Context, err error) bool {
	window := j.m.cfg.Engine.DowntimeRetry.D()
	r := j.snap()
	var changed *onPremChangedError
	if window <= 0 || !inDowntime(&r) || errors.As(err, &changed) {
		return false // the on-premises VM needs the operator (recheck.go)
	}
	now := j.m.now()
	j.mu.Lock()
	if j.retrySince.IsZero() {
		j.retrySince = now
	}
	j.retries++
	since, n := j.retrySince, j.retries
	j.mu.Unlock()
	left := window - now.Sub(since)
	if left <= 0 {
		return false
	}
	wait := min(backoff.Delay(2*time.Second, time.Minute, n), left)
	_ = j.update(func(r *jobRecord) {
		r.Error = fmt.Sprintf("retrying in %s: %v", wait.Round(time.Second), err)
	})
	j.warn("retry", "phase 2 stopped (%v); the Azure VMs are off, so failback tries again in %s from the journals (retry %d; it keeps trying for %s more, then stops for resume or cancel)",
		err, wait.Round(time.Second), n, left.Round(time.Second))
	return backoff.Sleep(ctx, wait) == nil
}

// downtimeOver forgets the retries once phase 2 ran through or the job
// left it.
func (j *job) downtimeOver() {
	j.mu.Lock()
	j.retrySince, j.retries = time.Time{}, 0
	j.mu.Unlock()
}

// The steps of phase 2 whose time is recorded.
const (
	stepShutdown = "shutdown"
	stepSnapshot = "snapshot"
	stepTransfer = "transfer"
	stepVerify   = "verify"
	stepStart    = "start"
)

// downtimeRecord is where phase 2's time went: from the first shut-down
// to the on-premises VMs running, and each step's share, summed over
// retries and resumes (a step cut short counts what it took).
type downtimeRecord struct {
	Began time.Time                `json:"began"`
	Ended time.Time                `json:"ended,omitzero"`
	Steps map[string]time.Duration `json:"steps,omitempty"`
}

// downtimeBegins records when phase 2 began (once: a retry or a resume
// goes on with the same downtime).
func (j *job) downtimeBegins() {
	now := j.m.now()
	_ = j.update(func(r *jobRecord) {
		if r.Downtime == nil {
			began := r.DowntimeStart // markDowntimeStart's: one start for both records
			if began.IsZero() {
				began = now
			}
			r.Downtime = &downtimeRecord{Began: began, Steps: map[string]time.Duration{}}
		}
	})
}

// timed runs step f of phase 2 and adds its time to the record, with a
// log line saying what it took.
func (j *job) timed(step string, f func() error) error {
	start := time.Now()
	err := f()
	took := time.Since(start)
	_ = j.update(func(r *jobRecord) {
		if r.Downtime == nil {
			return
		}
		// A new value, never a change in place: copies of the record
		// (snap) share the old one.
		d := *r.Downtime
		d.Steps = maps.Clone(d.Steps)
		if d.Steps == nil {
			d.Steps = map[string]time.Duration{}
		}
		d.Steps[step] += took
		r.Downtime = &d
	})
	if err == nil {
		j.info("downtime", "phase 2: %s took %s", step, took.Round(time.Millisecond))
	}
	return err
}

// downtimeEnds records the end of phase 2 and logs where its time went.
func (j *job) downtimeEnds() {
	now := j.m.now()
	var v *DowntimeView
	_ = j.update(func(r *jobRecord) {
		if r.Downtime != nil {
			d := *r.Downtime
			d.Ended = now
			r.Downtime = &d
			v = downtimeView(&d, now)
		}
	})
	if v != nil {
		j.info("downtime", "%s", v.Text())
	}
}

// DowntimeView is where phase 2's time went: Total from the first
// shut-down to the on-premises VMs running (so far, while it runs), and
// each step's share; Other is the rest (checks of the on-premises VMs,
// retries' waits).
type DowntimeView struct {
	Began    time.Time     `json:"began"`
	Ended    time.Time     `json:"ended,omitzero"`
	Total    time.Duration `json:"total"`
	Shutdown time.Duration `json:"shutdown"`
	Snapshot time.Duration `json:"snapshot"`
	Transfer time.Duration `json:"transfer"`
	Verify   time.Duration `json:"verify"`
	Start    time.Duration `json:"start"`
	Other    time.Duration `json:"other"`
}

func downtimeView(d *downtimeRecord, now time.Time) *DowntimeView {
	if d == nil {
		return nil
	}
	end := d.Ended
	if end.IsZero() {
		end = now
	}
	v := &DowntimeView{Began: d.Began, Ended: d.Ended, Total: end.Sub(d.Began),
		Shutdown: d.Steps[stepShutdown], Snapshot: d.Steps[stepSnapshot], Transfer: d.Steps[stepTransfer],
		Verify: d.Steps[stepVerify], Start: d.Steps[stepStart]}
	v.Other = max(v.Total-v.Shutdown-v.Snapshot-v.Transfer-v.Verify-v.Start, 0)
	return v
}

// Text says where the downtime went, in one line.
func (v DowntimeView) Text() string {
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	verb := "downtime so far"
	if !v.Ended.IsZero() {
		verb = "downtime"
	}
	return fmt.Sprintf("%s %s: shutdown %s, snapshot %s, transfer %s, verify %s, start %s, other %s",
		verb, r(v.Total), r(v.Shutdown), r(v.Snapshot), r(v.Transfer), r(v.Verify), r(v.Start), r(v.Other))
}

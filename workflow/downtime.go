package workflow

import (
	"context"
	"errors"
	"fmt"
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

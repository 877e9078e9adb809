package workflow

import (
	"fmt"
	"sync"
	"time"

	"github.com/failback/failback/azure"
)

// throttleReporter is an Azure disk open for a sync (a snapshot source, a
// page blob target) that says what Azure's throttling does to it.
type throttleReporter interface {
	Throttling() azure.Throttling
}

// throttledShown: a disk reads "throttled by Azure" this long after the
// last answer that throttled it.
const throttledShown = 30 * time.Second

// throttleLive is a disk's throttling as the view shows it.
type throttleLive struct {
	throttled bool
	count     int64 // throttled answers since the sync opened the disk
	parallel  int
}

// watchThrottle follows the throttling of disk k while r is open: sample
// (with each engine progress sample) stores it for the view; done (once
// the sync has closed it) logs what Azure's throttling did, if anything,
// and clears the view's figures. label names the disk in the log.
func (j *job) watchThrottle(k diskKey, label string, r throttleReporter) (sample, done func()) {
	base := r.Throttling().Throttled
	read := func() throttleLive {
		th := r.Throttling()
		return throttleLive{count: th.Throttled - base, parallel: th.Parallel,
			throttled: th.Throttled > base && time.Since(th.Last) < throttledShown}
	}
	sample = func() {
		t := read()
		j.mu.Lock()
		j.liveDisk(k).thr = t
		j.mu.Unlock()
	}
	done = func() {
		th := r.Throttling()
		if n := th.Throttled - base; n > 0 {
			limit := ""
			if th.RateCap > 0 {
				limit = fmt.Sprintf(" and about %s/s", bytesText(int64(th.RateCap)))
			}
			j.warn("throttle", "%s: Azure throttled %d request(s) of this disk (429/503, its limits or the storage account's); failback waited as asked and went on at %d parallel request(s)%s",
				label, n, th.Parallel, limit)
		}
		j.mu.Lock()
		if l := j.live[k]; l != nil {
			l.thr = throttleLive{}
		}
		j.mu.Unlock()
	}
	return sample, done
}

// ThrottleText says, for a disk Azure throttles now, that the slowness is
// Azure's and what failback does about it (the console and status show
// it under the disk).
func ThrottleText(d DiskView) string {
	return fmt.Sprintf("throttled by Azure: %d request(s) refused for load (429/503); waiting as Azure asks, %d request(s) at a time",
		d.Throttles, d.Parallel)
}

// sentThrottling is the throttling a host's mover reports on its
// progress frames for a disk it reads or writes (counted from the
// call's start): the view and the log show it as for a disk this
// process reads or writes itself.
type sentThrottling struct {
	mu sync.Mutex
	th azure.Throttling
}

func (s *sentThrottling) Throttling() azure.Throttling {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.th
}

// report is a mover call's Throttling (mover.Snapshot, mover.Target).
func (s *sentThrottling) report(th azure.Throttling) {
	s.mu.Lock()
	s.th = th
	s.mu.Unlock()
}

// watchSent follows, as watchThrottle, the throttling a mover reports
// for disk k: report is the mover call's Throttling, done as
// watchThrottle's.
func (j *job) watchSent(k diskKey, label string) (report func(azure.Throttling), done func()) {
	s := &sentThrottling{}
	sample, done := j.watchThrottle(k, label, s)
	return func(th azure.Throttling) {
		s.report(th)
		sample()
	}, done
}

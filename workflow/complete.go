package workflow

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/failback/failback/engine"
)

// The live downtime estimate: what Complete failover would move if
// pressed now (what changed in Azure since the disks' newest snapshot,
// at the rate of change the catch-up passes measured) and how long the
// VMs would then be down (the fixed part measured by the last failback
// from this state folder, plus moving and verifying those bytes at the
// measured rate).

// assumedOverhead is the fixed part of a downtime until one was measured
// here: stopping the Azure VMs, the final snapshot and its diff, starting
// the VMs on premises.
const assumedOverhead = 30 * time.Second

// throughputFile is state_dir/throughput.json: the rates measured here.
type throughputFile struct {
	BytesPerSecond float64   `json:"bytes_per_second"`
	Updated        time.Time `json:"updated"`
	// OverheadSeconds is the fixed part of the last downtime measured
	// (OverheadJob's): the downtime less moving and verifying its bytes.
	OverheadSeconds float64 `json:"overhead_seconds,omitempty"`
	OverheadJob     string  `json:"overhead_job,omitempty"`
}

// rates are the figures of throughput.json, or what is assumed instead.
type rates struct {
	read         float64 // bytes/s read from Azure
	readMeasured bool
	overhead     time.Duration
	overheadJob  string // "" when assumed
}

func (m *Manager) loadThroughput() throughputFile {
	var t throughputFile
	if b, err := os.ReadFile(m.paths.throughput()); err == nil {
		_ = json.Unmarshal(b, &t)
	}
	return t
}

func (m *Manager) rates() rates {
	t := m.loadThroughput()
	r := rates{read: defaultThroughput, overhead: assumedOverhead}
	if t.BytesPerSecond > 0 {
		r.read, r.readMeasured = t.BytesPerSecond, true
	}
	if t.OverheadJob != "" {
		r.overhead, r.overheadJob = time.Duration(t.OverheadSeconds*float64(time.Second)), t.OverheadJob
	}
	return r
}

// noteThroughput folds a measured read rate into the stored figure.
func (m *Manager) noteThroughput(bps float64) {
	if bps <= 0 {
		return
	}
	t := m.loadThroughput()
	if t.BytesPerSecond > 0 {
		bps = 0.7*t.BytesPerSecond + 0.3*bps
	}
	t.BytesPerSecond, t.Updated = bps, m.now()
	_ = writeJSONAtomic(m.paths.throughput(), t)
}

// overheadText says where the fixed part of a downtime comes from.
func (r rates) overheadText() string {
	if r.overheadJob == "" {
		return durText(r.overhead) + " assumed to stop Azure and start on premises"
	}
	return durText(r.overhead) + " to stop Azure and start on premises, as job " + r.overheadJob + " measured"
}

// rateText says where the read rate comes from.
func (r rates) rateText() string {
	if r.readMeasured {
		return bytesText(int64(r.read)) + "/s measured"
	}
	return bytesText(int64(r.read)) + "/s assumed"
}

// cachedRates reads throughput.json at most every few seconds for the
// views. Call with j.mu held.
func (j *job) cachedRates(now time.Time) rates {
	if now.Sub(j.ratesAt) > 5*time.Second || j.ratesAt.IsZero() {
		j.ratesNow, j.ratesAt = j.m.rates(), now
	}
	return j.ratesNow
}

// changeRate is how fast disk d changes in Azure (bytes of changed
// ranges a second), measured between the snapshots of its newest ranges
// pass; false when no pass measured it.
func changeRate(d diskRecord) (float64, bool) {
	taken := map[string]time.Time{}
	for _, p := range d.Passes {
		if p.Done && !p.Taken.IsZero() {
			taken[p.Snapshot] = p.Taken
		}
	}
	for i := len(d.Passes) - 1; i >= 0; i-- {
		p := d.Passes[i]
		if !p.Done || p.Mode != engine.Ranges || p.Taken.IsZero() || p.Kind == passFinal {
			continue
		}
		if b, ok := taken[p.Base]; ok && p.Taken.After(b) {
			return float64(p.Ranges) / p.Taken.Sub(b).Seconds(), true
		}
	}
	return 0, false
}

// rangesRate is the read rate of disk d's newest ranges passes (bytes
// read from Azure a second), false when they were too short to tell.
func rangesRate(d diskRecord) (float64, time.Duration) {
	var n int64
	var t time.Duration
	for i := len(d.Passes) - 1; i >= 0 && t < 10*time.Second; i-- {
		if p := d.Passes[i]; p.Done && p.Mode == engine.Ranges {
			n, t = n+p.Stats.BytesReadSource, t+p.Stats.Duration
		}
	}
	if t < time.Second || n == 0 {
		return 0, t
	}
	return float64(n) / t.Seconds(), t
}

// completeNow is JobView.CompleteNow: nil unless every disk holds a
// finished pass. Call with j.mu held.
func (j *job) completeNow(r *jobRecord, now time.Time) *CompleteEstimate {
	rc := j.cachedRates(time.Now())
	var bytes, size float64
	var since time.Time
	var readN, readT float64
	measured := true
	for _, vm := range r.VMs {
		for _, d := range vm.Disks {
			last := d.lastDone()
			if last == nil {
				return nil
			}
			size += float64(d.Size)
			if since.IsZero() || last.Taken.Before(since) {
				since = last.Taken
			}
			cr, ok := changeRate(d)
			if !ok || last.Taken.IsZero() {
				measured = false
				continue
			}
			bytes += cr * now.Sub(last.Taken).Seconds()
			if rr, t := rangesRate(d); rr > 0 {
				readN, readT = readN+rr*t.Seconds(), readT+t.Seconds()
			}
		}
	}
	e := &CompleteEstimate{Since: since}
	rate, rateText := rc.read, rc.rateText()
	if readT > 0 {
		rate = readN / readT
		rateText = bytesText(int64(rate)) + "/s measured by its catch-up passes"
	}
	if measured {
		e.Bytes = int64(min(bytes, size))
		e.Basis = fmt.Sprintf("what changed in Azure since the last snapshot (%s), at the rate of change its catch-up passes measured; moved and verified at %s; %s",
			since.Local().Format("15:04:05"), rateText, rc.overheadText())
	} else {
		e.Bytes = lastMoved(r)
		e.Basis = fmt.Sprintf("what the last pass moved (the rate of change is measured from the next catch-up pass on); moved and verified at %s; %s", rateText, rc.overheadText())
	}
	e.Downtime = rc.overhead + time.Duration(2*float64(e.Bytes)/rate*float64(time.Second))
	return e
}

// markDowntimeStart records when phase 2 began stopping the Azure VMs
// (once: a resumed phase 2 keeps the first).
func (j *job) markDowntimeStart() error {
	return j.update(func(r *jobRecord) {
		if r.DowntimeStart.IsZero() {
			r.DowntimeStart = j.m.now()
		}
	})
}

// markDowntimeEnd records when the last group ran on premises, and
// measures the fixed part of this downtime for the next estimates: the
// downtime less moving (and verifying) the final bytes at the read rate.
func (j *job) markDowntimeEnd() error {
	now := j.m.now()
	if err := j.update(func(r *jobRecord) { r.DowntimeEnd = now }); err != nil {
		return err
	}
	r := j.snap()
	if r.DowntimeStart.IsZero() {
		return nil
	}
	var took time.Duration // the disks' final passes run side by side
	for _, vm := range r.VMs {
		for _, d := range vm.Disks {
			for _, p := range d.Passes {
				if p.Done && (p.Kind == passFinal || p.Kind == passFull) {
					took = max(took, p.Stats.Duration)
				}
			}
		}
	}
	factor := 2.0 // the final pass, then its verification
	if r.Choices.Sync == SyncFull && !j.m.cfg.Engine.Verify {
		factor = 1
	}
	overhead := max(now.Sub(r.DowntimeStart)-time.Duration(factor*float64(took)), 0)
	t := j.m.loadThroughput()
	t.OverheadSeconds, t.OverheadJob, t.Updated = overhead.Seconds(), j.id, j.m.now()
	_ = writeJSONAtomic(j.m.paths.throughput(), t)
	j.info("downtime", "downtime %s: from stopping the Azure VMs to the last group running on premises", durText(now.Sub(r.DowntimeStart)))
	return nil
}

package workflow

import (
	"strconv"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/units"
)

// The job's figures, defined once: what phase it is in, how far through
// it, how long is left, and its totals. view.go builds the disks'.

// warmUp is how long a step or a phase must have run before its rate is
// measured: the first samples of a pass (pipelines filling, a journal
// opening) say nothing of its speed.
const warmUp = 2 * time.Second

// stepClock measures one disk's step (an engine phase of one pass).
type stepClock struct {
	key   string
	start time.Time
	done0 int64
}

// sampled notes a new sample: a new step starts its clock again; the
// step's percentage only grows.
func (l *liveDisk) sampled(now time.Time) {
	if key := l.phase + "/" + string(l.p.Phase); key != l.step.key {
		l.step = stepClock{key: key, start: now, done0: l.p.Done}
		l.pct = 0
	}
	if l.p.Total > 0 {
		l.pct = max(l.pct, min(100*float64(l.p.Done)/float64(l.p.Total), 100))
	}
}

// measured is the step's rate over all of it so far, and its time left;
// zero until it has run warmUp and moved.
func (l *liveDisk) measured(now time.Time) (float64, time.Duration) {
	el := now.Sub(l.step.start)
	moved := l.p.Done - l.step.done0
	if el < warmUp || moved <= 0 {
		return 0, 0
	}
	rate := float64(moved) / el.Seconds()
	left := max(l.p.Total-l.p.Done, 0)
	return rate, time.Duration(float64(left) / rate * float64(time.Second))
}

// phaseClock keeps a job's progress monotonic within a phase and
// measures the phase's rate over all of it.
type phaseClock struct {
	label  string
	start  time.Time
	f0, hw float64
}

// observe takes the phase's fraction done now (0-1) and returns the
// percentage to show and the time left (0 while not measured).
func (c *phaseClock) observe(label string, f float64, now time.Time) (float64, time.Duration) {
	if label != c.label {
		*c = phaseClock{label: label, start: now, f0: f, hw: f}
	}
	c.hw = max(c.hw, min(f, 1))
	var eta time.Duration
	if el := now.Sub(c.start); el >= warmUp && c.hw-c.f0 > 0.001 && c.hw < 1 {
		eta = time.Duration((1 - c.hw) / ((c.hw - c.f0) / el.Seconds()) * float64(time.Second))
	}
	return 100 * c.hw, eta
}

// clock is the Manager's clock for views (a bare Manager of a unit test
// has none set).
func (m *Manager) clock() time.Time {
	if m.deps.Now == nil {
		return time.Now().UTC()
	}
	return m.now()
}

// verifies says the engine verifies what each pass wrote.
func (m *Manager) verifies() bool { return m.cfg != nil && m.cfg.Engine.Verify }

// jobFigures fills the job's phase, progress, time left and totals. Call
// with j.mu held.
func (j *job) jobFigures(v *JobView, now time.Time) {
	r := j.rec
	st := r.State
	if st.Stopped() && r.Was != "" {
		st = r.Was
	}
	v.Phase = j.phaseLabel(r, st)
	f := j.phaseFraction(r, st)
	switch {
	case r.State == StateReady, r.State == StatePendingCommit, r.State == StateCommitted, r.State == StateTesting:
		v.Percent = 100
	case r.State.Final():
	case r.State.Stopped():
		v.Percent = 100 * f
	default:
		v.Percent, v.ETA = j.phaseClock.observe(v.Phase, f, now)
	}
	v.Totals.Passes = countPasses(r)
	finals, disks := 0, 0
	for vi, vm := range r.VMs {
		for di, d := range vm.Disks {
			disks++
			for i, p := range d.Passes {
				if p.Kind != passFinal && p.Kind != passFull {
					continue
				}
				l := j.live[diskKey{vi, di}]
				switch {
				case p.Done:
					v.Totals.FinalDelta += p.Stats.BytesTransferred
					finals++
				case i == len(d.Passes)-1 && l != nil && l.p.Phase != "":
					v.Totals.FinalDelta += l.p.BytesTransferred
				}
			}
		}
	}
	v.Totals.FinalDone = disks > 0 && finals == disks
	if !r.DowntimeStart.IsZero() {
		switch {
		case !r.DowntimeEnd.IsZero():
			v.Totals.Downtime = r.DowntimeEnd.Sub(r.DowntimeStart)
		case inDowntime(&jobRecord{State: st, Flow: r.Flow}):
			v.Totals.Downtime, v.Totals.DowntimeLive = j.m.clock().Sub(r.DowntimeStart), true
		}
	}
	if r.State == StateReady {
		v.CompleteNow = j.completeNow(r, j.m.clock())
	}
	if r.State == StateReverse && !r.ReverseOnce && !r.LastReverse.IsZero() && j.m.cfg != nil {
		v.NextReverse = r.LastReverse.Add(j.m.cfg.Reverse.Interval.D())
	}
}

// phaseLabel names what a job in state st does, as JobView.Phase says.
func (j *job) phaseLabel(r *jobRecord, st JobState) string {
	switch st {
	case StatePreflight:
		return "pre-flight"
	case StatePhase1:
		return "phase 1"
	case StateCatchUp:
		s := "catch-up pass " + itoa(r.Pass)
		if j.m.cfg != nil && j.m.cfg.Engine.CatchUp.MaxPasses > 0 {
			n := j.m.cfg.Engine.CatchUp.MaxPasses
			s += " (of at most " + itoa(n) + ")"
		}
		return s
	case StateReady:
		if j.readyPassRuns() {
			return "ready to complete, catching up (pass " + itoa(r.Pass) + ")"
		}
		return "ready to complete"
	case StateShutdown:
		return "phase 2: shutting down the Azure VMs"
	case StatePhase2:
		if r.Choices.Sync == SyncFull {
			return "phase 2: full download"
		}
		return "phase 2: final delta"
	case StateVerify:
		return "phase 2: verifying"
	case StateStarting:
		return "phase 2: starting on premises"
	case StatePendingCommit:
		return "pending commit"
	case StateCommitting:
		return "committing"
	case StateReverse:
		return "reverse replication, cycle " + itoa(r.ReverseCycles+1)
	case StateCancelling:
		return "cancel: rolling the disks back"
	case StateUndoing:
		return "undo"
	}
	return string(st)
}

// readyPassRuns says a catch-up pass runs while the job is ready. Call
// with j.mu held.
func (j *job) readyPassRuns() bool {
	for _, l := range j.live {
		if l.p.Phase != "" && l.p.Phase != engine.PhaseDone && l.phase != diskDone && l.phase != diskFailed {
			return true
		}
	}
	return false
}

// phaseFraction is how far (0-1) the job is through the phase of state
// st: every disk (or VM) counts, weighted by its size, those not started
// as nothing, so it does not fall back as disks start.
func (j *job) phaseFraction(r *jobRecord, st JobState) float64 {
	var sum, all float64
	add := func(w, f float64) { sum, all = sum+w*f, all+w }
	verifies := j.m.verifies()
	for vi, vm := range r.VMs {
		vmDone := 0.0
		switch st {
		case StateShutdown:
			vmDone = b2f(vm.AzureOff)
		case StateStarting:
			vmDone = b2f(j.onprem[vm.Name] == "running" || vm.StartedOnPrem && j.onprem[vm.Name] == "")
		case StateCommitting:
			vmDone = b2f(vm.AzureDeleted)
		case StateUndoing:
			vmDone = b2f(vm.StoppedOnPrem || !vm.StartedOnPrem)
		}
		for di, d := range vm.Disks {
			w := float64(max(d.Size, 1))
			l := j.live[diskKey{vi, di}]
			live := 0.0
			if l != nil && l.p.Phase != "" {
				live = l.pct / 100
				if verifies && (st == StatePhase1 || st == StateCatchUp) {
					// A pass that verifies what it wrote: syncing is
					// its first half, verifying its second.
					live /= 2
					if l.p.Phase == engine.PhaseVerify || l.p.Phase == engine.PhaseSums {
						live += 0.5
					}
				}
			}
			switch st {
			case StatePhase1:
				add(w, max(b2f(hasDone(d, passPhase1, 0)), live))
			case StateCatchUp:
				add(w, max(b2f(hasDone(d, passCatchUp, r.Pass)), live))
			case StatePhase2:
				add(w, max(b2f(hasDone(d, passFinal, 0) || hasDone(d, passFull, 0)), live))
			case StateVerify:
				add(w, max(b2f(d.Verified), live))
			case StateCancelling:
				add(w, max(b2f(d.RolledBack), live))
			case StateReverse:
				if l != nil && l.phase == diskDone {
					live = 1
				}
				add(w, live)
			default:
				add(w, vmDone)
			}
		}
	}
	if all == 0 {
		return 0
	}
	return sum / all
}

// hasDone says disk d finished a pass of kind (and round).
func hasDone(d diskRecord, kind string, round int) bool {
	for _, p := range d.Passes {
		if p.Kind == kind && p.Round == round && p.Done {
			return true
		}
	}
	return false
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func itoa(n int) string { return strconv.Itoa(n) }

// durText and pctText write durations and percentages the one way
// (internal/units), as bytesText writes sizes.
func durText(d time.Duration) string { return units.Duration(d) }
func pctText(p float64) string       { return units.Percent(p) }

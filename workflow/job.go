package workflow

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
)

// job is one failback job in memory: its record (the truth, saved after
// every change), the latest engine figures per disk (never saved: they
// are rebuilt by the next run), its log and its driver.
type job struct {
	m  *Manager
	id string

	mu   sync.Mutex
	rec  *jobRecord
	log  ring
	live map[diskKey]*liveDisk
	// power states last seen, by VM name, for display.
	azure, onprem map[string]string

	// driver: at most one goroutine runs the job's flow.
	running bool
	cancel  context.CancelCauseFunc
	done    chan struct{}

	keys    map[string]*crypt.DataKey // data keys by "vm/blob", once unlocked
	discard discardEstimate
	// retrySince and retries count phase 2's automatic retries (see
	// downtime.go).
	retrySince time.Time
	retries    int
	// open counts the readers of each snapshot (by id): a managed disk's
	// snapshot holds a read grant (a SAS) while one reads it.
	open map[string]int
	// phaseClock keeps the job's progress monotonic within a phase and
	// measures its rate (figures.go); wait says what the job waits for
	// (startwait.go).
	phaseClock phaseClock
	wait       waitInfo
	// ratesNow caches throughput.json for the views (complete.go).
	ratesNow rates
	ratesAt  time.Time
}

// diskKey addresses disk d of VM v in the record.
type diskKey struct{ v, d int }

// liveDisk is the newest engine sample of a disk, and what figures.go
// measures over the step it belongs to.
type liveDisk struct {
	phase string
	p     engine.Progress
	err   string
	agent *AgentView // newest figures of the agent source open now
	step  stepClock
	pct   float64 // the step's percentage, never going back within it
}

// liveDisk returns disk k's live entry, made on first use. Call with
// j.mu held.
func (j *job) liveDisk(k diskKey) *liveDisk {
	l := j.live[k]
	if l == nil {
		l = &liveDisk{}
		j.live[k] = l
	}
	return l
}

func newJob(m *Manager, r *jobRecord) *job {
	return &job{m: m, id: r.ID, rec: r, live: map[diskKey]*liveDisk{},
		azure: map[string]string{}, onprem: map[string]string{}}
}

func (j *job) created() time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec.Created
}

// update changes the record under the lock and saves it before anyone
// sees the change; subscribers are told afterwards.
func (j *job) update(f func(r *jobRecord)) error {
	j.mu.Lock()
	f(j.rec)
	j.rec.Updated = j.m.now()
	var err error
	if !j.m.deps.ReadOnly {
		err = j.m.paths.saveRecord(j.rec)
	}
	j.mu.Unlock()
	j.m.hub.notify()
	return err
}

// snap returns a deep copy of the record, for reading outside the lock.
func (j *job) snap() jobRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	return cloneRecord(j.rec)
}

func cloneRecord(r *jobRecord) jobRecord {
	c := *r
	c.Test = r.Test.clone()
	c.VMs = make([]vmRecord, len(r.VMs))
	for i, v := range r.VMs {
		c.VMs[i] = v
		c.VMs[i].Points = append([]recoveryPoint(nil), v.Points...)
		c.VMs[i].Test = v.Test.clone()
		c.VMs[i].Disks = make([]diskRecord, len(v.Disks))
		for k, d := range v.Disks {
			c.VMs[i].Disks[k] = d
			c.VMs[i].Disks[k].Passes = append([]passRecord(nil), d.Passes...)
			c.VMs[i].Disks[k].Cycles = append([]cycleRecord(nil), d.Cycles...)
			c.VMs[i].Disks[k].Test = d.Test.clone()
		}
	}
	return c
}

// setState moves the job to s (saved) and logs it when it changed.
func (j *job) setState(s JobState) error {
	var old JobState
	err := j.update(func(r *jobRecord) {
		old = r.State
		r.State = s
		if s != StateFailed && s != StateInterrupted {
			r.Error = ""
		}
	})
	if old != s {
		j.record(nil, "info", "state", string(s), "state: "+string(s))
	}
	return err
}

// markInterrupted is Open's verdict on a job whose process ended while
// it moved.
func (j *job) markInterrupted() {
	var was JobState
	_ = j.update(func(r *jobRecord) {
		was = r.State
		r.Was, r.State = r.State, StateInterrupted
	})
	r := j.snap()
	j.record(nil, "warn", "interrupted", "interrupted",
		"interrupted: the process driving this job ended while it was "+string(was)+"; "+j.nextAfterStop(&r))
}

// nextAfterStop says what the operator can do with a job that stopped
// (failed or interrupted): what Resume does, and Cancel or Undo only when
// they apply; once committed neither does, and the text must not offer
// them.
func (j *job) nextAfterStop(r *jobRecord) string {
	switch r.Flow {
	case flowCancel:
		return "resume (or cancel) finishes rolling every disk back"
	case flowUndo:
		return "resume (or undo) finishes making Azure the running side again"
	case flowReverse:
		return "resume runs the unfinished reverse replication cycle again (the failback is committed: cancel and undo no longer apply)"
	case flowCommit:
		return "resume finishes the commit (cancel and undo no longer apply)"
	}
	if was := r.Was; r.Flow == flowComplete || r.Flow == flowStart {
		d := *r
		d.State = was
		if inDowntime(&d) {
			if ok, _ := j.allowed(r, ActUndo, false); ok {
				return "the Azure VMs are off: resume continues phase 2 from the journals; undo stops the on-premises VMs and starts the Azure VMs again"
			}
			return "the Azure VMs are off: resume continues phase 2 from the journals; cancel starts the Azure VMs again and puts every on-premises disk back as it was"
		}
	}
	parts := []string{"resume continues from the journals"}
	if ok, _ := j.allowed(r, ActCancel, false); ok {
		parts = append(parts, "cancel rolls every disk back")
	}
	if ok, _ := j.allowed(r, ActUndo, false); ok {
		parts = append(parts, "undo stops the on-premises VMs and makes Azure the running side again")
	}
	return strings.Join(parts, "; ")
}

// setProgress stores the newest engine sample of a disk. It never calls a
// subscriber: the hub's notice is a non-blocking send.
func (j *job) setProgress(k diskKey, phase string, p engine.Progress) {
	j.mu.Lock()
	l := j.liveDisk(k)
	l.phase, l.p, l.err = phase, p, ""
	l.sampled(time.Now())
	j.mu.Unlock()
	j.m.hub.notify()
}

// setDiskPhase marks a disk's phase without engine figures.
func (j *job) setDiskPhase(k diskKey, phase, errText string) {
	j.mu.Lock()
	l := j.liveDisk(k)
	if phase != diskFailed {
		// The step is over (its pass's record holds its figures) or a new
		// one starts; a failed step keeps its figures: how far it got.
		l.p = engine.Progress{}
	}
	l.phase, l.err = phase, errText
	l.sampled(time.Now())
	j.mu.Unlock()
	j.m.hub.notify()
}

func (j *job) setPower(azureSide bool, vm, text string) {
	j.mu.Lock()
	if azureSide {
		j.azure[vm] = text
	} else {
		j.onprem[vm] = text
	}
	j.mu.Unlock()
	j.m.hub.notify()
}

// reading counts a reader of snapshot id in (+1) or out (-1).
func (j *job) reading(id string, delta int) {
	j.mu.Lock()
	if j.open == nil {
		j.open = map[string]int{}
	}
	j.open[id] += delta
	if j.open[id] <= 0 {
		delete(j.open, id)
	}
	j.mu.Unlock()
	j.m.hub.notify()
}

// hook runs Deps.StepHook, if any.
func (j *job) hook(ctx context.Context, step string) error {
	if h := j.m.deps.StepHook; h != nil {
		return h(ctx, j.id, step)
	}
	return nil
}

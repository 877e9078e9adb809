package workflow

import (
	"time"

	"github.com/failback/failback/config"
)

// cycleRecord is what one reverse replication cycle sent for one disk.
type cycleRecord struct {
	At   time.Time `json:"at"`
	Sent int64     `json:"sent"`
}

// keepCycles is how many cycles a disk's record remembers.
const keepCycles = 24

// noteCycle records a finished cycle of a disk, keeping the newest.
func noteCycle(d *diskRecord, at time.Time, sent int64) {
	d.Cycles = append(d.Cycles, cycleRecord{At: at, Sent: sent})
	if n := len(d.Cycles); n > keepCycles {
		d.Cycles = append([]cycleRecord(nil), d.Cycles[n-keepCycles:]...)
	}
}

// ReverseView is one disk's reverse replication: what each cycle sent
// for it, and the recovery points of its VM (every disk of the VM is
// snapshotted together) that hold it.
type ReverseView struct {
	// Cycles are the newest cycles, oldest first.
	Cycles []CycleView `json:"cycles"`
	// Points counts the VM's recovery points kept; Oldest and Newest are
	// when the oldest and newest were taken.
	Points int       `json:"points"`
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
	// Consistency is the newest point's ("application-consistent",
	// "crash-consistent", "vm-off", "live").
	Consistency string `json:"consistency,omitempty"`
	// RPOTarget is [reverse] rpo_target: the newest point older than
	// this is late (0: no target).
	RPOTarget time.Duration `json:"rpo_target,omitempty"`
	// Read is what the last cycle read of the disk on premises, and
	// Changes how it found what to send (from change tracking, or by
	// checksumming the disk, and why).
	Read    int64  `json:"read,omitempty"`
	Changes string `json:"changes,omitempty"`
	// CycleTook is how long the job's last cycle ran; Slow says it ran
	// longer than [reverse] interval while cycles repeat.
	CycleTook time.Duration `json:"cycle_took,omitempty"`
	Slow      bool          `json:"slow,omitempty"`
}

// Late says the newest recovery point is older than the RPO target at
// now.
func (v ReverseView) Late(now time.Time) bool {
	return v.RPOTarget > 0 && !v.Newest.IsZero() && now.Sub(v.Newest) > v.RPOTarget
}

// CycleView is one cycle of one disk.
type CycleView struct {
	At   time.Time `json:"at"`
	Sent int64     `json:"sent"`
}

// reverseView is disk d of VM vm's reverse replication, nil before the
// first cycle.
func reverseView(r *jobRecord, vm vmRecord, d diskRecord, rc config.Reverse) *ReverseView {
	if len(d.Cycles) == 0 && len(vm.Points) == 0 && d.SentBytes == 0 {
		return nil
	}
	v := &ReverseView{Cycles: []CycleView{}, Points: len(vm.Points)}
	for _, c := range d.Cycles {
		v.Cycles = append(v.Cycles, CycleView(c))
	}
	if len(v.Cycles) == 0 && d.SentBytes > 0 {
		// A record from before cycles were kept: the last one's figure.
		v.Cycles = append(v.Cycles, CycleView{At: r.LastReverse, Sent: d.SentBytes})
	}
	if n := len(vm.Points); n > 0 {
		v.Oldest, v.Newest = vm.Points[0].At, vm.Points[n-1].At
		v.Consistency = vm.Points[n-1].Consistency
	}
	v.RPOTarget = rc.RPOTarget.D()
	v.Read, v.Changes = d.ReadBytes, d.Changes
	v.CycleTook = r.LastCycleTook
	v.Slow = r.State == StateReverse && !r.ReverseOnce && r.LastCycleTook > rc.Interval.D()
	return v
}

// reverseConfig is the [reverse] section the job runs under (the
// defaults for a job not opened by a Manager, as in unit tests).
func (j *job) reverseConfig() config.Reverse {
	if j.m == nil || j.m.cfg == nil {
		return config.Default().Reverse
	}
	return j.m.cfg.Reverse
}

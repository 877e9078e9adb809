package workflow

import "time"

// cycleRecord is what one reverse replication cycle did to one disk.
type cycleRecord struct {
	At   time.Time `json:"at"`
	Sent int64     `json:"sent"`
	// Point is the recovery point (snapshot) the cycle left, "" when
	// nothing had changed.
	Point string `json:"point,omitempty"`
}

// keepCycles is how many cycles a disk's record remembers.
const keepCycles = 24

// noteCycle records a finished cycle of a disk, keeping the newest.
func noteCycle(d *diskRecord, at time.Time, sent int64, point string) {
	d.Cycles = append(d.Cycles, cycleRecord{At: at, Sent: sent, Point: point})
	if n := len(d.Cycles); n > keepCycles {
		d.Cycles = append([]cycleRecord(nil), d.Cycles[n-keepCycles:]...)
	}
}

// ReverseView is one disk's reverse replication: what each cycle sent
// and the recovery points it keeps in Azure.
type ReverseView struct {
	// Cycles are the newest cycles, oldest first.
	Cycles []CycleView `json:"cycles"`
	// Points counts the recovery points kept; Oldest and Newest are when
	// the oldest and newest were taken (zero when not known).
	Points int       `json:"points"`
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
}

// CycleView is one cycle of one disk.
type CycleView struct {
	At    time.Time `json:"at"`
	Sent  int64     `json:"sent"`
	Point string    `json:"point,omitempty"`
}

// reverseView is disk d's reverse replication, nil before the first cycle.
func reverseView(r *jobRecord, d diskRecord) *ReverseView {
	if len(d.Cycles) == 0 && len(d.RecoveryPoints) == 0 {
		return nil
	}
	v := &ReverseView{Cycles: []CycleView{}, Points: len(d.RecoveryPoints)}
	taken := map[string]time.Time{}
	for _, c := range d.Cycles {
		v.Cycles = append(v.Cycles, CycleView(c))
		if c.Point != "" {
			taken[c.Point] = c.At
		}
	}
	if len(v.Cycles) == 0 && d.SentBytes > 0 {
		// A record from before cycles were kept: the last one's figure.
		v.Cycles = append(v.Cycles, CycleView{At: r.LastReverse, Sent: d.SentBytes})
	}
	when := func(id string) time.Time {
		if t, ok := taken[id]; ok {
			return t
		}
		t, _ := time.Parse(time.RFC3339Nano, id) // a page blob's snapshot is its time
		return t
	}
	if n := len(d.RecoveryPoints); n > 0 {
		v.Oldest, v.Newest = when(d.RecoveryPoints[0]), when(d.RecoveryPoints[n-1])
	}
	return v
}

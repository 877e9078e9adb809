package workflow

import (
	"testing"
	"time"
)

// Passes while ready, with the final snapshot of Complete failover,
// never ask a disk for more snapshots than Azure allows (7 per disk in
// any 5 minutes): at the default pace a window holds at most 5 of them
// and the final one; the wait grows with the time the job has waited.
func TestReadyPacingStaysWithinAzureSnapshotLimits(t *testing.T) {
	m := &Manager{}
	every := m.readyEvery(0)
	if n := int(5*time.Minute/every) + 1 + 1; n > 7 {
		t.Fatalf("a pass every %s: up to %d snapshots in 5 minutes with the final one", every, n)
	}
	for waited, want := range map[time.Duration]time.Duration{time.Minute: time.Minute, time.Hour: 6 * time.Minute, 100 * time.Hour: 10 * time.Minute} {
		if got := m.readyEvery(waited); got != want {
			t.Errorf("after waiting %s: a pass every %s, want %s", waited, got, want)
		}
	}
	m.deps.ReadyCatchUp = -1
	if got := m.readyEvery(0); got != 0 {
		t.Errorf("turned off: every %s", got)
	}
}

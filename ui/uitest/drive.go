package uitest

import (
	"time"

	"github.com/failback/failback/workflow"
)

const (
	mib       = int64(1) << 20
	checkRate = 400 * float64(mib) // bytes per second the fake claims
	xferRate  = 100 * float64(mib)
)

// Operator and Viewer are the actors tests use.
var (
	Operator = workflow.Actor{Name: "alice", Role: workflow.RoleOperator, Via: "console"}
	Viewer   = workflow.Actor{Name: "victor", Role: workflow.RoleViewer, Via: "console"}
)

// Advance moves job id one deterministic step on: a quarter of each
// disk's checksum, half of its transfer, or the next state once every
// disk is done. It returns the job's state afterwards.
func (f *Fake) Advance(id string) workflow.JobState {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.find(id)
	if j == nil {
		return ""
	}
	f.advance(j)
	j.Updated = f.tick()
	f.notify()
	return j.State
}

// Update changes a job by hand (for odd states in tests) and notifies.
// A job it stops (failed, interrupted) remembers the state it stopped
// in, as the Manager's record does.
func (f *Fake) Update(id string, fn func(*workflow.JobView)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j := f.find(id); j != nil {
		before := j.State
		fn(j)
		if j.State.Stopped() && !before.Stopped() {
			f.was[id] = before
		}
		f.notify()
	}
}

// Logf adds a log line to a job.
func (f *Fake) Logf(id, level, format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logf(id, level, format, args...)
	f.notify()
}

func (f *Fake) advance(j *workflow.JobView) {
	switch j.State {
	case workflow.StatePhase1, workflow.StateCatchUp:
		if f.stepDisks(j, true) {
			j.State, f.ready[j.ID] = workflow.StateReady, f.clock
			f.logf(j.ID, "info", "phase 1 done: ready to complete failover")
		}
	case workflow.StateShutdown:
		j.State = workflow.StatePhase2
		j.Totals.Downtime, j.Totals.DowntimeLive = time.Second, true
		for vi := range j.VMs {
			v := &j.VMs[vi]
			v.AzureState = "stopped"
			for di := range v.Disks {
				f.stepDisk(j, &v.Disks[di], false)
			}
			v.Phase = vmPhase(v.Disks)
		}
		f.logf(j.ID, "info", "Azure VMs shut down; phase 2 copies the last changes")
	case workflow.StatePhase2:
		j.Totals.Downtime += 2 * time.Second
		if f.stepDisks(j, false) {
			j.State = workflow.StatePendingCommit
			j.Totals.DowntimeLive, j.Totals.FinalDone = false, true
			for vi := range j.VMs {
				j.VMs[vi].OnPremState, j.VMs[vi].Phase = "running", "pending commit"
			}
			f.logf(j.ID, "info", "on-premises VMs started: check them, then Commit or Undo")
		}
	case workflow.StateCommitting:
		j.State = workflow.StateCommitted
		f.logf(j.ID, "info", "committed: Azure VMs deleted")
	case workflow.StateReverse:
		j.ReverseCycles++
		j.LastReverse = f.clock
		f.logf(j.ID, "info", "reverse replication cycle %d done: 4.0 MiB sent", j.ReverseCycles)
	case workflow.StateCancelling:
		j.State = workflow.StateCancelled
		f.logf(j.ID, "warn", "cancelled: on-premises disks restored")
	case workflow.StateUndoing:
		j.State = workflow.StateUndone
		f.logf(j.ID, "warn", "undone: Azure VMs running again")
	}
}

func vmPhase(ds []workflow.DiskView) string {
	phase := "done"
	for _, d := range ds {
		switch d.Phase {
		case "checksum":
			return "checksum"
		case "transfer", "waiting":
			phase = d.Phase
		}
	}
	return phase
}

// SeedRunning adds a web-shop delta job in phase 1 with disks part way
// through checksum and transfer, and returns its id.
func (f *Fake) SeedRunning() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.create(workflow.Choices{
		Plan: "web-shop", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal,
		Sync: workflow.SyncDelta, CertThumbprint: ThumbGood,
	}, Operator)
	if err != nil {
		return ""
	}
	// The OS disks of group 1 are ahead of the database: different
	// phases on one screen.
	for step := 0; step < 5; step++ {
		for vi := range j.VMs {
			v := &j.VMs[vi]
			for di := range v.Disks {
				if v.Group == 1 || step >= 3 {
					f.stepDisk(j, &v.Disks[di], true)
				}
			}
			v.Phase = vmPhase(v.Disks)
		}
	}
	j.Updated = f.tick()
	f.notify()
	return j.ID
}

// SeedPendingCommit adds a files01 job that has reached pending commit.
func (f *Fake) SeedPendingCommit() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.create(workflow.Choices{
		VM: "files01", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal,
		Sync: workflow.SyncDelta,
	}, Operator)
	if err != nil {
		return ""
	}
	for i := 0; i < 20 && j.State != workflow.StatePendingCommit; i++ {
		f.advance(j)
		if j.State == workflow.StateReady {
			j.State = workflow.StateShutdown
		}
	}
	j.Updated = f.tick()
	f.notify()
	return j.ID
}

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
			j.State = workflow.StateReady
			f.logf(j.ID, "info", "phase 1 done: ready to complete failover")
		}
	case workflow.StateShutdown:
		j.State = workflow.StatePhase2
		for vi := range j.VMs {
			v := &j.VMs[vi]
			v.AzureState = "stopped"
			for di := range v.Disks {
				d := &v.Disks[di]
				d.Phase, d.BytesTransferred = "transfer", 0
				d.BytesToTransfer = 256 * mib
				if j.Choices.Sync == workflow.SyncFull {
					d.BytesToTransfer = d.Size
				}
				d.BlocksDiffered = d.BytesToTransfer / mib
			}
		}
		f.logf(j.ID, "info", "Azure VMs shut down; phase 2 copies the last changes")
	case workflow.StatePhase2:
		if f.stepDisks(j, false) {
			j.State = workflow.StatePendingCommit
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

// stepDisks moves every disk one step and reports whether all are done.
func (f *Fake) stepDisks(j *workflow.JobView, checksum bool) bool {
	all := true
	for vi := range j.VMs {
		v := &j.VMs[vi]
		for di := range v.Disks {
			d := &v.Disks[di]
			f.stepDisk(j.ID, d, checksum)
			all = all && d.Phase == "done"
		}
		v.Phase = vmPhase(v.Disks)
	}
	return all
}

func (f *Fake) stepDisk(job string, d *workflow.DiskView, checksum bool) {
	switch d.Phase {
	case "waiting":
		if checksum {
			d.Phase, d.BytesToCheck = "checksum", d.Size
		} else {
			d.Phase = "transfer"
		}
	case "checksum":
		d.BytesChecked += d.Size / 4
		if d.BytesChecked >= d.BytesToCheck {
			d.BytesChecked = d.BytesToCheck
		}
		d.BlocksChecked = d.BytesChecked / mib
		d.BlocksDiffered = d.BlocksChecked * 3 / 100
		if d.BytesChecked == d.BytesToCheck {
			d.Phase = "transfer"
			d.BytesToTransfer = d.BlocksDiffered * mib
			f.logf(job, "info", "%s: checksums done, %d blocks differ", d.Name, d.BlocksDiffered)
		}
	case "transfer":
		d.BytesTransferred += d.BytesToTransfer / 2
		if d.BytesTransferred >= d.BytesToTransfer {
			d.BytesTransferred = d.BytesToTransfer
			d.Phase = "done"
		}
	}
	d.Rate, d.ETA = 0, 0
	switch d.Phase {
	case "checksum":
		d.Rate = checkRate
		d.ETA = time.Duration(float64(d.BytesToCheck-d.BytesChecked) / checkRate * float64(time.Second))
	case "transfer":
		d.Rate = xferRate
		d.ETA = time.Duration(float64(d.BytesToTransfer-d.BytesTransferred) / xferRate * float64(time.Second))
	}
	d.Percent = percent(d, checksum)
}

func percent(d *workflow.DiskView, checksum bool) float64 {
	if d.Phase == "done" {
		return 100
	}
	t := 0.0
	if d.BytesToTransfer > 0 {
		t = float64(d.BytesTransferred) / float64(d.BytesToTransfer)
	}
	if !checksum {
		return 100 * t
	}
	c := 0.0
	if d.BytesToCheck > 0 {
		c = float64(d.BytesChecked) / float64(d.BytesToCheck)
	}
	return 80*c + 20*t
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
					f.stepDisk(j.ID, &v.Disks[di], true)
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

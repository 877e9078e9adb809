package uitest

import (
	"time"

	"github.com/failback/failback/workflow"
)

// The fake's figures, shaped as the workflow's view defines them
// (workflow/view.go and figures.go): one progress ratio per disk step,
// what each pass moved, the job's phase label and percent, its totals and,
// while ready, what Complete failover would cost now, which grows with
// the fake clock as the changes in Azure do.

// stepDisks moves every disk one step and reports whether all are done.
func (f *Fake) stepDisks(j *workflow.JobView, checksum bool) bool {
	all := true
	for vi := range j.VMs {
		v := &j.VMs[vi]
		for di := range v.Disks {
			d := &v.Disks[di]
			f.stepDisk(j, d, checksum)
			all = all && d.Phase == "done"
		}
		v.Phase = vmPhase(v.Disks)
	}
	return all
}

// stepDisk moves one disk a step through its pass: a delta pass checks
// the whole disk (3% of the blocks differ and are moved as they are
// found), a ranges or full pass goes through its scope writing it.
func (f *Fake) stepDisk(j *workflow.JobView, d *workflow.DiskView, checksum bool) {
	before := d.BytesTransferred
	switch d.Phase {
	case "waiting", "done":
		if d.Phase == "done" && (checksum || d.Pass != "phase 1") {
			return
		}
		d.BytesChecked, d.BytesTransferred, d.BytesToTransfer, d.BlocksChecked, d.BlocksDiffered = 0, 0, 0, 0, 0
		before = 0
		if checksum {
			d.Phase, d.Pass, d.Mode, d.BytesToCheck = "checksum", "phase 1", "delta", d.Size
		} else {
			d.Phase, d.Pass, d.Mode, d.BytesToCheck = "transfer", "final", "ranges", 256*mib
			if j.Choices.Sync == workflow.SyncFull {
				d.Pass, d.Mode, d.BytesToCheck = "full download", "full", d.Size
			}
		}
	case "checksum":
		d.BytesChecked = min(d.BytesChecked+d.Size/4, d.BytesToCheck)
		d.BlocksChecked = d.BytesChecked / mib
		d.BlocksDiffered = d.BlocksChecked * 3 / 100
		d.BytesTransferred = d.BlocksDiffered * mib
		if d.BytesChecked == d.BytesToCheck {
			d.Phase, d.BytesToTransfer = "done", d.BytesTransferred
			f.logf(j.ID, "info", "%s: phase 1 done, %d blocks differed", d.Name, d.BlocksDiffered)
		}
	case "transfer":
		d.BytesChecked = min(d.BytesChecked+d.BytesToCheck/2, d.BytesToCheck)
		d.BlocksChecked = d.BytesChecked / mib
		d.BlocksDiffered, d.BytesTransferred = d.BlocksChecked/64, d.BytesChecked/64
		if d.BytesChecked == d.BytesToCheck {
			d.Phase, d.BytesToTransfer = "done", d.BytesTransferred
		}
	}
	d.BytesRead = d.BytesChecked
	d.Moved += d.BytesTransferred - before
	d.Rate, d.ETA = 0, 0
	switch d.Phase {
	case "checksum":
		d.Rate = checkRate
	case "transfer":
		d.Rate = xferRate
	}
	if d.Rate > 0 {
		d.ETA = time.Duration(float64(d.BytesToCheck-d.BytesChecked) / d.Rate * float64(time.Second))
	}
	d.Percent = 100
	if d.Phase != "done" && d.BytesToCheck > 0 {
		d.Percent = 100 * float64(d.BytesChecked) / float64(d.BytesToCheck)
	}
}

// phaseLabels are the workflow's phase labels by state.
var phaseLabels = map[workflow.JobState]string{
	workflow.StatePhase1:        "phase 1",
	workflow.StateReady:         "ready to complete",
	workflow.StateShutdown:      "phase 2: shutting down the Azure VMs",
	workflow.StatePhase2:        "phase 2: final delta",
	workflow.StateVerify:        "phase 2: verifying",
	workflow.StateStarting:      "phase 2: starting on premises",
	workflow.StatePendingCommit: "pending commit",
	workflow.StateCommitting:    "committing",
	workflow.StateCancelling:    "cancel: rolling the disks back",
	workflow.StateUndoing:       "undo",
}

// figured returns a copy of job j with its figures worked out now.
func (f *Fake) figured(j *workflow.JobView) workflow.JobView {
	c := clone(j)
	st := c.State
	if st.Stopped() {
		st = f.was[c.ID]
	}
	c.Phase = phaseLabels[st]
	if c.Phase == "" {
		c.Phase = string(st)
	}
	if st == workflow.StatePhase2 && c.Choices.Sync == workflow.SyncFull {
		c.Phase = "phase 2: full download"
	}
	if st == workflow.StateReverse {
		c.Phase = "reverse replication"
	}
	var sum, all float64
	c.Totals.Moved, c.Totals.Passes, c.Totals.FinalDelta = 0, 0, 0
	for _, v := range c.VMs {
		for _, d := range v.Disks {
			w := float64(max(d.Size, 1))
			sum, all = sum+w*d.Percent, all+w
			c.Totals.Moved += d.Moved
			switch d.Pass {
			case "phase 1":
				c.Totals.Passes++
			case "final", "full download":
				c.Totals.Passes += 2
				c.Totals.FinalDelta += d.BytesTransferred
			}
		}
	}
	switch {
	case c.State == workflow.StateReady, c.State == workflow.StatePendingCommit, c.State == workflow.StateCommitted, c.State == workflow.StateReverse:
		c.Percent = 100
	case c.State.Final():
		c.Percent = 0
	case all > 0:
		c.Percent = sum / all
	}
	if c.State == workflow.StateReady {
		waited := f.clock.Sub(f.ready[c.ID])
		n := 4*mib + int64(waited/time.Second)*mib
		c.CompleteNow = &workflow.CompleteEstimate{Bytes: n, Since: f.ready[c.ID],
			Downtime: 5*time.Second + time.Duration(2*float64(n)/xferRate*float64(time.Second)),
			Basis:    "what changed in Azure since the last snapshot, at 1.0 MiB/s measured; moved and verified at 100 MiB/s measured; 5s to stop Azure and start on premises, as job 250510-2200-3c measured"}
	}
	return c
}

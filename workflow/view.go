package workflow

import (
	"time"

	"github.com/failback/failback/engine"
)

// Disk phases shown in DiskView.Phase.
const (
	diskWaiting  = "waiting"
	diskChecksum = "checksum"
	diskTransfer = "transfer"
	diskVerify   = "verify"
	diskDone     = "done"
	diskFailed   = "failed"
	diskRollback = "rollback"
	diskReverse  = "reverse"
)

// enginePhase maps an engine phase onto the disk phases of the API.
func enginePhase(p engine.Phase, mode engine.Mode) string {
	switch p {
	case engine.PhaseCompare:
		return diskChecksum
	case engine.PhaseCopy:
		return diskTransfer
	case engine.PhaseVerify, engine.PhaseSums:
		return diskVerify
	case engine.PhaseRollback:
		return diskRollback
	case engine.PhaseDone:
		return diskDone
	}
	if mode == engine.Delta {
		return diskChecksum
	}
	return diskTransfer
}

// view builds a consistent JobView under the job's lock.
func (j *job) view() JobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.rec
	v := JobView{ID: r.ID, Title: r.Title, Choices: r.Choices, State: r.State, Pass: r.Pass,
		Created: r.Created, Updated: r.Updated, Owner: r.Owner, Error: r.Error, VMs: []VMView{},
		ReverseCycles: r.ReverseCycles, LastReverse: r.LastReverse}
	var done, total int64
	var eta time.Duration
	for vi, vm := range r.VMs {
		vv := VMView{Name: vm.Name, Group: vm.Group, Host: vm.Host, AzureState: j.azure[vm.Name],
			OnPremState: j.onprem[vm.Name], Disks: []DiskView{}}
		if vv.AzureState == "" {
			vv.AzureState = azureText(vm)
		}
		if vv.OnPremState == "" {
			vv.OnPremState = onPremText(vm)
		}
		phases := map[string]bool{}
		for _, d := range vm.Disks {
			for _, p := range d.Passes {
				if p.Snapshot != "" && !p.SnapshotGone {
					v.Azure = append(v.Azure, HeldSnapshot{VM: vm.Name, Disk: d.name(), Snapshot: p.Snapshot, Pass: p.Kind, Reading: j.open[p.Snapshot] > 0})
				}
			}
		}
		for di, d := range vm.Disks {
			dv := diskView(d, j.live[diskKey{vi, di}])
			if awaitsFinal(r, d) && dv.Phase == diskDone {
				// Phase 2 has not written this disk yet: its earlier
				// passes' "done" is not the failback's.
				dv = DiskView{Name: dv.Name, Image: dv.Image, Size: dv.Size, Phase: diskWaiting, Agent: dv.Agent}
			}
			phases[dv.Phase] = true
			if l := j.live[diskKey{vi, di}]; l != nil && l.p.Total > 0 && dv.Phase != diskDone {
				done += l.p.Done
				total += l.p.Total
				eta = max(eta, dv.ETA)
			}
			vv.Disks = append(vv.Disks, dv)
		}
		vv.Phase = vmPhase(phases)
		for _, p := range vm.Points {
			vv.RecoveryPoints = append(vv.RecoveryPoints, RecoveryPointView{At: p.At, Cycle: p.Cycle, Sent: p.Sent})
		}
		v.VMs = append(v.VMs, vv)
	}
	v.Hosts = hostViews(r, j.live)
	if total > 0 {
		v.Percent = 100 * float64(done) / float64(total)
		v.ETA = eta
	} else if r.State == StatePendingCommit || r.State == StateCommitted || r.State == StateReady {
		v.Percent = 100
	}
	return v
}

func diskView(d diskRecord, l *liveDisk) DiskView {
	dv := DiskView{Name: d.name(), Image: d.Image, Size: d.Size, Phase: diskWaiting, Agent: agentView(d, l)}
	if p := d.lastDone(); p != nil {
		dv.Phase = diskDone
		fillCounters(&dv, p.Mode, p.Stats.Counters, p.Stats.BytesChecked, p.Stats.BytesTransferred)
		dv.Percent = 100
	}
	if l == nil {
		return dv
	}
	if l.phase != "" {
		dv.Phase = l.phase
	}
	dv.Error = l.err
	p := l.p
	if p.Total == 0 && p.Phase == "" {
		return dv
	}
	dv.Phase = enginePhase(p.Phase, engine.Ranges)
	if l.phase == diskRollback || l.phase == diskReverse {
		dv.Phase = l.phase
	}
	c := p.Counters
	dv.BlocksChecked, dv.BlocksDiffered = c.BlocksChecked, c.BlocksDiffered
	dv.BytesChecked, dv.BytesTransferred = c.BytesChecked, c.BytesTransferred
	switch p.Phase {
	case engine.PhaseCompare, engine.PhaseCopy:
		// Every block in scope is compared with the target before it is
		// written (delta by checksums; ranges and full against the undo
		// journal's copy), so going through the scope is the checking,
		// and what moves is known only when every block is settled (0 =
		// not known yet). The scope's bytes are not bytes moved: a
		// catch-up pass over 14 MiB of ranges may write 3.
		dv.BytesChecked, dv.BytesToCheck = p.Done, p.Total
	default:
		// Verifying, recording sums, done: the pass's figures are final.
		if c.BytesChecked > 0 {
			dv.BytesToCheck = c.BytesChecked
		}
		dv.BytesToTransfer = c.BytesTransferred
	}
	dv.Rate = p.Rate
	if p.ETA > 0 {
		dv.ETA = p.ETA
	}
	dv.Percent = p.Percent
	return dv
}

// awaitsFinal says the job is in phase 2 (running or stopped there) and
// disk d has not had its final pass (or full download) yet.
func awaitsFinal(r *jobRecord, d diskRecord) bool {
	st := r.State
	if st.Stopped() {
		st = r.Was
	}
	switch st {
	case StateShutdown, StatePhase2:
	default:
		return false
	}
	for _, p := range d.Passes {
		if p.Done && (p.Kind == passFinal || p.Kind == passFull) {
			return false
		}
	}
	return true
}

func fillCounters(dv *DiskView, mode engine.Mode, c engine.Counters, toCheck, toTransfer int64) {
	dv.BytesChecked, dv.BytesToCheck = c.BytesChecked, toCheck
	dv.BytesTransferred, dv.BytesToTransfer = c.BytesTransferred, toTransfer
	dv.BlocksChecked, dv.BlocksDiffered = c.BlocksChecked, c.BlocksDiffered
	if mode == engine.Delta && dv.BytesToCheck == 0 {
		dv.BytesToCheck = c.BytesChecked
	}
}

// vmPhase summarises the disks' phases: the least advanced one.
func vmPhase(ph map[string]bool) string {
	for _, p := range []string{diskFailed, diskRollback, diskChecksum, diskTransfer, diskVerify, diskReverse, diskWaiting} {
		if ph[p] {
			return p
		}
	}
	if ph[diskDone] {
		return diskDone
	}
	return diskWaiting
}

func azureText(vm vmRecord) string {
	switch {
	case vm.AzureDeleted:
		return "deleted"
	case vm.AzureRestarted:
		return "running"
	case vm.AzureOff && vm.ShutByJob:
		return "off (shut down by this job)"
	case vm.AzureOff:
		return "off"
	}
	return "running"
}

func onPremText(vm vmRecord) string {
	switch {
	case vm.StoppedOnPrem:
		return "off"
	case vm.StartedOnPrem:
		return "running"
	}
	return "off"
}

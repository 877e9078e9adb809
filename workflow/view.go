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

// view builds a consistent JobView under the job's lock. Every figure is
// defined here (and in figures.go) once; the console, status and jobs
// only format them.
func (j *job) view() JobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.rec
	now := time.Now()
	v := JobView{ID: r.ID, Title: r.Title, Choices: r.Choices, State: r.State, Pass: r.Pass,
		Created: r.Created, Updated: r.Updated, Owner: r.Owner, Error: r.Error, VMs: []VMView{},
		ReverseCycles: r.ReverseCycles, LastReverse: r.LastReverse, Wait: j.wait.text(now), Test: testReport(r)}
	if r.Downtime != nil {
		// A downtime that ended without an end (cancelled in phase 2:
		// Azure runs again) ran until the job's last change.
		end := r.Updated
		if inDowntime(r) {
			end = j.m.now()
		}
		v.Downtime = downtimeView(r.Downtime, end)
	}
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
			dv := diskView(r, d, j.live[diskKey{vi, di}], now)
			if awaitsFinal(r, d) && dv.Phase == diskDone {
				// Phase 2 has not written this disk yet: its earlier
				// passes' "done" is not the failback's.
				dv = DiskView{Name: dv.Name, Image: dv.Image, Size: dv.Size, Phase: diskWaiting, Agent: dv.Agent, Moved: dv.Moved}
			}
			dv.Reverse = reverseView(r, vm, d, j.reverseConfig())
			phases[dv.Phase] = true
			vv.Disks = append(vv.Disks, dv)
			v.Totals.Moved += dv.Moved
		}
		vv.Phase = vmPhase(phases)
		for _, p := range vm.Points {
			vv.RecoveryPoints = append(vv.RecoveryPoints, RecoveryPointView{At: p.At, Cycle: p.Cycle, Sent: p.Sent, Consistency: p.Consistency})
		}
		v.VMs = append(v.VMs, vv)
	}
	v.Hosts = hostViews(r, j.live)
	j.jobFigures(&v, now)
	return v
}

// diskView is one disk's figures: those of its live step when one runs,
// else those of its newest finished pass.
func diskView(r *jobRecord, d diskRecord, l *liveDisk, now time.Time) DiskView {
	dv := DiskView{Name: d.name(), Image: d.Image, Size: d.Size, Phase: diskWaiting, Agent: agentView(d, l)}
	if d.Test != nil && d.Test.Image != "" {
		dv.Image = d.Test.Image // a test writes its test disk, never the VM's
	}
	// Phase 2 verifies a disk once its final pass is done (engine.Verify,
	// counters of its own); a pass that verifies what it wrote does so
	// before it is done, with the pass's counters.
	n := len(d.Passes)
	checking := l != nil && l.phase == diskVerify && n > 0 && d.Passes[n-1].Done
	running := -1 // the pass the engine runs now, if any
	if l != nil && l.p.Phase != "" && l.phase != diskRollback && l.phase != diskReverse && !checking {
		running = n - 1
	}
	for i, p := range d.Passes {
		if i != running {
			dv.Moved += p.Stats.BytesTransferred
		}
	}
	if p := d.lastDone(); p != nil {
		dv.Phase, dv.Pass, dv.Mode, dv.Percent = diskDone, passLabel(*p), string(p.Mode), 100
		passFigures(&dv, p.Stats.Counters)
		dv.BytesToCheck = dv.BytesChecked
	}
	if l == nil {
		return dv
	}
	if l.phase != "" {
		dv.Phase = l.phase
	}
	dv.Error = l.err
	dv.Throttled, dv.Throttles, dv.Parallel = l.thr.throttled, l.thr.count, l.thr.parallel
	p := l.p
	if p.Total == 0 && p.Phase == "" {
		return dv
	}
	c := p.Counters
	switch {
	case l.phase == diskRollback || l.phase == diskReverse:
		dv.Pass, dv.Mode = l.phase, ""
		passFigures(&dv, c)
		if l.phase == diskRollback {
			dv.BytesTransferred = 0 // a rollback writes back, it moves nothing new
		}
	case checking:
		// engine.Verify's counters are its own: the figures stay those
		// of the pass it checks.
		dv.Phase = diskVerify
	default:
		dv.Phase = enginePhase(p.Phase, engine.Ranges)
		if running >= 0 {
			pr := d.Passes[running]
			dv.Pass, dv.Mode = passLabel(pr), string(pr.Mode)
		}
		passFigures(&dv, c)
		dv.Moved += c.BytesTransferred
		dv.BytesToTransfer = 0 // found as the pass goes
		if p.Phase == engine.PhaseVerify || p.Phase == engine.PhaseSums || p.Phase == engine.PhaseDone {
			dv.BytesToTransfer = c.BytesTransferred // every block is settled
		}
	}
	dv.BytesChecked, dv.BytesToCheck = p.Done, p.Total
	dv.Percent = l.pct
	switch {
	case l.phase == diskFailed:
		dv.Phase = diskFailed
	case p.Phase == engine.PhaseDone:
		dv.Phase, dv.Percent = diskDone, 100
	}
	if dv.Phase != diskDone {
		dv.Rate, dv.ETA = l.measured(now)
	}
	return dv
}

// passFigures fills what a pass wrote, read and found different.
func passFigures(dv *DiskView, c engine.Counters) {
	dv.BytesChecked = c.BytesChecked
	dv.BytesTransferred, dv.BytesToTransfer = c.BytesTransferred, c.BytesTransferred
	dv.BytesRead = c.BytesReadSource
	dv.BlocksChecked, dv.BlocksDiffered = c.BlocksChecked, c.BlocksDiffered
}

// passLabel names a pass as DiskView.Pass says it.
func passLabel(p passRecord) string {
	switch p.Kind {
	case passPhase1:
		return "phase 1"
	case passCatchUp:
		return "catch-up " + itoa(p.Round)
	case passFull:
		return "full download"
	}
	return p.Kind
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

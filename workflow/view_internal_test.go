package workflow

import (
	"testing"

	"github.com/failback/failback/engine"
)

// The console's two bars: during a delta pass the checksum bar moves with
// the engine's progress and the transfer total is not known yet; during a
// ranges or full pass the transfer bar moves; once verifying, both are
// complete.
func TestDiskViewBarsFollowTheEnginePhase(t *testing.T) {
	d := diskRecord{Blob: "d.vhd", Size: 100}
	cmp := engine.Progress{Phase: engine.PhaseCompare, Done: 40, Total: 100, Percent: 40,
		Counters: engine.Counters{BytesChecked: 40, BytesTransferred: 8, BlocksDiffered: 1}}
	v := diskView(d, &liveDisk{phase: diskTransfer, p: cmp})
	if v.Phase != diskChecksum || v.BytesChecked != 40 || v.BytesToCheck != 100 || v.BytesToTransfer != 0 || v.BytesTransferred != 8 {
		t.Fatalf("delta pass: %+v", v)
	}
	// A ranges (or full) pass goes through its scope comparing each block
	// with the target: the scope is the checking, and "moved" is only
	// what differed (12 of the 30 bytes gone through).
	cp := engine.Progress{Phase: engine.PhaseCopy, Done: 30, Total: 60, Percent: 50,
		Counters: engine.Counters{BytesChecked: 30, BytesTransferred: 12}}
	v = diskView(d, &liveDisk{phase: diskTransfer, p: cp})
	if v.Phase != diskTransfer || v.BytesChecked != 30 || v.BytesToCheck != 60 || v.BytesTransferred != 12 || v.BytesToTransfer != 0 {
		t.Fatalf("ranges pass: %+v", v)
	}
	ver := engine.Progress{Phase: engine.PhaseVerify, Done: 5, Total: 100,
		Counters: engine.Counters{BytesChecked: 100, BytesTransferred: 20}}
	v = diskView(d, &liveDisk{phase: diskVerify, p: ver})
	if v.Phase != diskVerify || v.BytesChecked != v.BytesToCheck || v.BytesTransferred != v.BytesToTransfer || v.BytesToTransfer != 20 {
		t.Fatalf("verify: %+v", v)
	}
}

// A disk whose final pass has not run yet shows waiting during phase 2
// (running or interrupted there), not the done of its catch-up passes.
func TestDiskWaitingForItsFinalPassIsNotDone(t *testing.T) {
	d := diskRecord{Passes: []passRecord{{Kind: passPhase1, Done: true}, {Kind: passCatchUp, Round: 1, Done: true}}}
	for _, r := range []jobRecord{
		{State: StatePhase2, Flow: flowComplete},
		{State: StateInterrupted, Was: StatePhase2, Flow: flowComplete},
	} {
		r.VMs = []vmRecord{{Name: "web", Disks: []diskRecord{d}}}
		j := newJob(&Manager{hub: newHub()}, &r)
		if v := j.view(); v.VMs[0].Disks[0].Phase != diskWaiting {
			t.Fatalf("state %s: disk phase %q, want waiting", r.State, v.VMs[0].Disks[0].Phase)
		}
	}
	r := jobRecord{State: StateReady, Flow: flowStart, VMs: []vmRecord{{Name: "web", Disks: []diskRecord{d}}}}
	if v := newJob(&Manager{hub: newHub()}, &r).view(); v.VMs[0].Disks[0].Phase != diskDone {
		t.Fatalf("ready to complete: disk phase %q, want done", v.VMs[0].Disks[0].Phase)
	}
}

package workflow

import (
	"testing"
	"time"

	"github.com/failback/failback/engine"
)

// live is a disk's live entry after the samples ps, as setProgress
// leaves it.
func live(phase string, t0 time.Time, ps ...engine.Progress) *liveDisk {
	l := &liveDisk{}
	for i, p := range ps {
		l.phase, l.p = phase, p
		l.sampled(t0.Add(time.Duration(i) * time.Second))
	}
	return l
}

// Each figure of a disk is defined once: the step's progress through its
// scope is the bar and the percentage alike; what the pass wrote so far
// is "moved", whose total is known once every block is settled; the
// pass's figures stay while it verifies, be it inside the pass or phase
// 2's own verification.
func TestDiskViewFiguresFollowTheStep(t *testing.T) {
	t0 := time.Now()
	r := &jobRecord{}
	running := passRecord{Kind: passCatchUp, Round: 2, Mode: engine.Ranges}
	d := diskRecord{Size: 100, Passes: []passRecord{{Kind: passPhase1, Mode: engine.Delta, Done: true,
		Stats: engine.Stats{Counters: engine.Counters{BytesTransferred: 7}}}, running}}
	cmp := engine.Progress{Phase: engine.PhaseCompare, Done: 40, Total: 100,
		Counters: engine.Counters{BytesChecked: 40, BytesTransferred: 8, BlocksDiffered: 1}}
	v := diskView(r, d, live(diskChecksum, t0, cmp), t0)
	if v.Phase != diskChecksum || v.BytesChecked != 40 || v.BytesToCheck != 100 || v.Percent != 40 ||
		v.BytesToTransfer != 0 || v.BytesTransferred != 8 || v.Moved != 15 || v.Pass != "catch-up 2" {
		t.Fatalf("a pass under way: %+v", v)
	}
	// Verifying inside the pass: the step is the verification, what the
	// pass moved stays, and its total is known.
	ver := cmp
	ver.Phase, ver.Done, ver.Counters.BytesTransferred = engine.PhaseVerify, 5, 20
	v = diskView(r, d, live(diskTransfer, t0, cmp, ver), t0)
	if v.Phase != diskVerify || v.Percent != 5 || v.BytesTransferred != 20 || v.BytesToTransfer != 20 || v.BlocksDiffered != 1 {
		t.Fatalf("verifying inside the pass: %+v", v)
	}
	// Phase 2's verification reads engine.Verify's own counters: the
	// final pass's figures stay those shown.
	d.Passes[1].Done = true
	d.Passes[1].Stats = engine.Stats{Counters: engine.Counters{BytesChecked: 60, BytesTransferred: 30, BlocksDiffered: 3}}
	sep := engine.Progress{Phase: engine.PhaseVerify, Done: 15, Total: 60}
	v = diskView(r, d, live(diskVerify, t0, sep), t0)
	if v.Phase != diskVerify || v.Percent != 25 || v.BytesTransferred != 30 || v.BlocksDiffered != 3 || v.Moved != 37 {
		t.Fatalf("phase 2 verifying: %+v", v)
	}
}

// A step's percentage never goes back, and its time left comes from the
// rate measured over the step once it has run a while, never from the
// first samples.
func TestStepProgressIsMonotonicAndTimedByItsMeasuredRate(t *testing.T) {
	t0 := time.Now()
	l := live(diskTransfer, t0,
		engine.Progress{Phase: engine.PhaseCopy, Done: 1, Total: 100},
		engine.Progress{Phase: engine.PhaseCopy, Done: 50, Total: 100})
	if rate, eta := l.measured(t0.Add(time.Second)); rate != 0 || eta != 0 {
		t.Fatalf("after a second: rate %v, left %v; want none yet", rate, eta)
	}
	if rate, eta := l.measured(t0.Add(4 * time.Second)); rate < 12 || rate > 13 || eta < 3*time.Second || eta > 5*time.Second {
		t.Fatalf("after four seconds: rate %v, left %v", rate, eta)
	}
	l.p.Done = 30 // a resumed engine that restarted lower
	l.sampled(t0.Add(5 * time.Second))
	if l.pct != 50 {
		t.Fatalf("percent went back to %v", l.pct)
	}
	var c phaseClock
	for i, f := range []float64{0.2, 0.5, 0.4, 0.9} {
		if p, _ := c.observe("phase 1", f, t0.Add(time.Duration(i)*time.Second)); p < 100*max(0.2, min(f, 0.5)) && i < 3 {
			t.Fatalf("job progress %v at sample %d", p, i)
		}
	}
	if p, _ := c.observe("phase 2: final delta", 0, t0); p != 0 {
		t.Fatalf("a new phase starts again: %v", p)
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

// Each mode's figures are said as what they are: a full download reads
// the allocated blocks whole, however few differ; a ranges pass goes
// through what changed; a delta pass checks by checksums.
func TestFiguresTextSaysWhatEachModeDid(t *testing.T) {
	full := DiskView{Phase: diskDone, Mode: "full", BytesChecked: 512 << 20, BytesToCheck: 512 << 20, BytesRead: 300 << 20,
		BlocksDiffered: 24, BytesTransferred: 24 << 20, BytesToTransfer: 24 << 20}
	if got := full.FiguresText(); got != "went through 512 MiB of 512 MiB, reading 300 MiB from Azure (the allocated blocks, without checksums); 24 block(s) differed from the on-premises disk and were written (24.0 MiB)" {
		t.Errorf("full: %s", got)
	}
	rng := DiskView{Phase: diskTransfer, Mode: "ranges", BytesChecked: 3 << 20, BytesToCheck: 14 << 20, BlocksDiffered: 2, BytesTransferred: 2 << 20}
	if got := rng.FiguresText(); got != "went through 3.0 MiB of 14.0 MiB changed since the last snapshot; 2 block(s) differed, 2.0 MiB moved so far" {
		t.Errorf("ranges: %s", got)
	}
	ver := DiskView{Phase: diskVerify, Mode: "ranges", BytesChecked: 1 << 20, BytesToCheck: 4 << 20, BlocksDiffered: 2, BytesTransferred: 2 << 20, BytesToTransfer: 2 << 20}
	if got := ver.FiguresText(); got != "verified 1.0 MiB of 4.0 MiB; the pass: 2 block(s) differed, 2.0 MiB moved" {
		t.Errorf("verify: %s", got)
	}
}

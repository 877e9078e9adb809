package workflow

import (
	"context"
	"fmt"

	"github.com/failback/failback/engine"
)

// flowStart is what Start sets going: phase 1 and the catch-up passes
// of a delta job (ending ready to complete), or the whole full download.
func (j *job) flowStart(ctx context.Context) error {
	if j.snap().Test != nil {
		return j.flowTest(ctx)
	}
	if err := j.createVMs(ctx); err != nil {
		return err
	}
	if err := j.discardSavedStates(ctx); err != nil {
		return err
	}
	if j.snap().Choices.Sync == SyncFull {
		return j.fullDownload(ctx)
	}
	if err := j.deltaPasses(ctx); err != nil {
		return err
	}
	if err := j.becomeReady(); err != nil {
		return err
	}
	return j.keepCatchingUp(ctx)
}

// deltaPasses runs phase 1 (unless it is done) and the catch-up rounds,
// the Azure VMs running.
func (j *job) deltaPasses(ctx context.Context) error {
	if !j.allPassed(passPhase1, 0) {
		if err := j.setState(StatePhase1); err != nil {
			return err
		}
		if err := j.hook(ctx, "phase1"); err != nil {
			return err
		}
		if err := j.recheckOnPrem(ctx, "phase 1"); err != nil {
			return err
		}
		j.info("phase1", "phase 1: snapshot every disk and sync the differences while the Azure VMs run")
		spec := passSpec{kind: passPhase1, mode: engine.Delta, verify: j.m.cfg.Engine.Verify}
		if err := j.eachDisk(ctx, func(ctx context.Context, k diskKey) error { return j.runPass(ctx, k, spec) }); err != nil {
			return err
		}
	}
	return j.catchUp(ctx)
}

// catchUp runs rounds of ranges passes while the Azure VMs run, until a
// round moved less than catch_up.stop_below or max_passes rounds ran.
// The decision to stop is taken when a round is finished, so a resumed
// job takes it the same way.
func (j *job) catchUp(ctx context.Context) error {
	cu := j.m.cfg.Engine.CatchUp
	for {
		r := j.snap()
		if r.CatchUpDone {
			return nil
		}
		round := r.Pass
		if cu.MaxPasses <= 0 {
			return j.update(func(r *jobRecord) { r.CatchUpDone = true })
		}
		if round == 0 || j.allPassed(passCatchUp, round) {
			if round > 0 {
				moved := j.roundMoved(round)
				if moved < cu.StopBelow.Bytes() || round >= cu.MaxPasses {
					why := fmt.Sprintf("it moved %s, below stop_below %s", bytesText(moved), bytesText(cu.StopBelow.Bytes()))
					if moved >= cu.StopBelow.Bytes() {
						why = fmt.Sprintf("max_passes (%d) reached; the last moved %s", cu.MaxPasses, bytesText(moved))
					}
					j.info("catch-up", "catch-up done after pass %d: %s", round, why)
					return j.update(func(r *jobRecord) { r.CatchUpDone = true })
				}
			}
			round++
			if err := j.update(func(r *jobRecord) { r.Pass = round }); err != nil {
				return err
			}
		}
		if err := j.setState(StateCatchUp); err != nil {
			return err
		}
		if err := j.hook(ctx, fmt.Sprintf("catch-up %d", round)); err != nil {
			return err
		}
		if err := j.recheckOnPrem(ctx, fmt.Sprintf("catch-up pass %d", round)); err != nil {
			return err
		}
		j.info("catch-up", "catch-up pass %d: snapshot again and sync what changed since the last snapshot", round)
		spec := passSpec{kind: passCatchUp, round: round, mode: engine.Ranges, verify: j.m.cfg.Engine.Verify}
		if err := j.eachDisk(ctx, func(ctx context.Context, k diskKey) error { return j.runPass(ctx, k, spec) }); err != nil {
			return err
		}
	}
}

// allPassed reports whether every disk has a finished pass of this kind
// (and round).
func (j *job) allPassed(kind string, round int) bool {
	r := j.snap()
	for _, vm := range r.VMs {
		for _, d := range vm.Disks {
			ok := false
			for _, p := range d.Passes {
				if p.Kind == kind && p.Round == round && p.Done {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// roundMoved is what a catch-up round transferred over all disks.
func (j *job) roundMoved(round int) int64 {
	r := j.snap()
	var n int64
	for _, vm := range r.VMs {
		for _, d := range vm.Disks {
			for _, p := range d.Passes {
				if p.Kind == passCatchUp && p.Round == round && p.Done {
					n += p.Stats.BytesTransferred
				}
			}
		}
	}
	return n
}

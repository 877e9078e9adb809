package workflow

import (
	"context"
	"time"

	"github.com/failback/failback/engine"
)

// A delta job ready to complete keeps catching up while it waits for the
// operator: a ranges pass, a wait, another pass. The final delta of
// Complete failover then stays about one wait's worth of changes however
// long the operator takes, and the live estimate (complete.go) says what
// it would cost now. The wait is at least a minute, so with the final
// snapshot a disk never takes more snapshots than Azure allows (7 per 5
// minutes; azure.ManagedDisks paces its snapshots to that besides); it
// grows with the time the job has waited (a tenth of it, at most ten
// minutes), so a job left ready for a weekend does not pile up passes.

// defaultReadyEvery is the shortest wait between catch-up passes while
// ready (Deps.ReadyCatchUp replaces it).
const defaultReadyEvery = time.Minute

// readyEvery is the wait before the next catch-up pass of a job that has
// been ready for waited; 0 when Deps.ReadyCatchUp turns them off.
func (m *Manager) readyEvery(waited time.Duration) time.Duration {
	base := m.deps.ReadyCatchUp
	switch {
	case base < 0:
		return 0
	case base == 0:
		base = defaultReadyEvery
	}
	return min(max(base, waited/10), 10*base)
}

// becomeReady rests the job ready to complete, once.
func (j *job) becomeReady() error {
	if j.snap().State == StateReady {
		return nil
	}
	if err := j.update(func(r *jobRecord) { r.ReadySince = j.m.now() }); err != nil {
		return err
	}
	if err := j.setState(StateReady); err != nil {
		return err
	}
	msg := "ready to complete failover: the on-premises disks hold the last snapshot; Complete failover shuts the Azure VMs down and moves what changed since"
	if every := j.m.readyEvery(0); every > 0 {
		msg += "; meanwhile a catch-up pass runs every " + durText(every) + " or so, so that stays little"
	}
	j.info("ready", "%s", msg)
	return nil
}

// keepCatchingUp runs catch-up passes while the job is ready, until the
// operator acts (the flow is superseded) or the process ends. A pass
// that fails leaves the job ready: the next one tries again.
func (j *job) keepCatchingUp(ctx context.Context) error {
	for {
		// Between passes the job rests: no data key stays in memory (a
		// job can wait for days); the next pass unwraps them again.
		j.forgetKeys()
		every := j.m.readyEvery(j.m.now().Sub(j.snap().ReadySince))
		if every <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
		if err := j.readyPass(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			j.warn("catch-up", "a catch-up pass while ready did not finish (%v); the job stays ready to complete and tries again in %s", err, durText(every))
		}
	}
}

// readyPass is one catch-up pass over every disk while ready.
func (j *job) readyPass(ctx context.Context) error {
	round := j.snap().Pass + 1
	if err := j.update(func(r *jobRecord) { r.Pass = round }); err != nil {
		return err
	}
	if err := j.hook(ctx, "ready catch-up"); err != nil {
		return err
	}
	spec := passSpec{kind: passCatchUp, round: round, mode: engine.Ranges, verify: j.m.cfg.Engine.Verify, quiet: true}
	if err := j.eachDisk(ctx, func(ctx context.Context, k diskKey) error { return j.runPass(ctx, k, spec) }); err != nil {
		return err
	}
	if moved := j.roundMoved(round); moved > 0 {
		j.info("catch-up", "catch-up pass %d while ready: %s moved", round, bytesText(moved))
	}
	return nil
}

// keepReady sets the drivers of ready jobs going again at Open, so they
// go on catching up (the console and failback serve: Deps.AutoResume).
func (m *Manager) keepReady() {
	if m.deps.ReadOnly || !m.deps.AutoResume || m.readyEvery(0) <= 0 {
		return
	}
	for _, j := range m.sortedJobs() {
		if r := j.snap(); r.State == StateReady && r.Flow == flowStart {
			j.kick()
		}
	}
}

// forgetKeys destroys the data keys of an encrypted job while it waits
// (j.key unwraps them again when a pass needs them).
func (j *job) forgetKeys() {
	j.mu.Lock()
	keys := j.keys
	j.keys = nil
	j.mu.Unlock()
	destroyKeys(keys)
}

package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/failback/failback/azure"
)

// discardTTL is how long a measurement of what Undo would discard is
// shown before it is taken again.
const discardTTL = 15 * time.Second

// Actions implements Service.
func (m *Manager) Actions(id string, who Actor) []ActionState {
	j, ok := m.job(id)
	if !ok {
		return nil
	}
	return j.actions(who)
}

// actions answers with the one set of rules (ActionRules) from the facts
// of the job's record.
func (j *job) actions(who Actor) []ActionState {
	r := j.snap()
	j.mu.Lock()
	running := j.running
	j.mu.Unlock()
	f := recordFacts(&r, running)
	f.ReverseEvery, f.KeepRecoveryPoints = j.m.cfg.Reverse.Interval.D(), j.m.cfg.Reverse.KeepRecoveryPoints
	f.DeleteDisks = j.m.cfg.Commit.DeleteDisks
	f.Replicas = j.m.deps.Replicas != nil
	if ok, _ := allowed(&f, ActComplete); ok {
		f.CompleteNow = j.view().CompleteNow // measured now
	}
	if ok, _ := allowed(&f, ActUndo); ok {
		// Only now: measuring reads every on-premises image.
		f.Discard = j.discardFacts()
	}
	return ActionRules(f, who)
}

// allowed is the rules' answer for action a on record r (nextAfterStop
// asks it of a record it holds).
func (j *job) allowed(r *jobRecord, a Action, running bool) (bool, string) {
	f := recordFacts(r, running)
	return allowed(&f, a)
}

// recordFacts are what the action rules read of record r; running says a
// flow drives the job now. The settings and Discard are the caller's to
// add (see actions): the record does not hold them.
func recordFacts(r *jobRecord, running bool) ActionFacts {
	f := ActionFacts{
		State: r.State, Was: r.Was, Flow: Flow(r.Flow), Sync: r.Choices.Sync,
		Phase1Done: phase1Done(r), Running: running,
		LastMoved: lastMoved(r), Passes: countPasses(r),
	}
	if r.Test != nil {
		f.Test = true
		for _, s := range r.Test.Switches {
			if s.Owned && !s.Removed {
				f.TestSwitches = append(f.TestSwitches, s.Name+" on "+s.Host)
			}
		}
	}
	for _, v := range r.VMs {
		vf := VMFacts{
			Name: v.Name, AzureVM: v.AzureVM, Group: v.Group,
			OnPrem:    v.StartedOnPrem && !v.StoppedOnPrem,
			ShutAzure: v.ShutByJob && !v.AzureRestarted,
			Created:   v.CreatedVM && !v.RemovedVM, Host: v.Host,
		}
		if v.Test != nil {
			vf.TestVM = v.Test.Name
		}
		for _, n := range v.NICs {
			vf.NICs = append(vf.NICs, n.Name())
			for _, ip := range n.PublicIPs {
				vf.PublicIPs = append(vf.PublicIPs, lastPart(ip))
			}
		}
		for _, d := range v.Disks {
			vf.Managed = vf.Managed || d.Azure.Kind == azure.KindManaged
		}
		f.VMs = append(f.VMs, vf)
	}
	return f
}

func phase1Done(r *jobRecord) bool {
	for _, v := range r.VMs {
		for _, d := range v.Disks {
			if p := firstPass(d, passPhase1); p == nil || !p.Done {
				return false
			}
		}
	}
	return true
}

func firstPass(d diskRecord, kind string) *passRecord {
	for i := range d.Passes {
		if d.Passes[i].Kind == kind {
			return &d.Passes[i]
		}
	}
	return nil
}

// discardFacts is the last measure of what Undo leaves behind; it
// measures again in the background when that is missing or old.
func (j *job) discardFacts() DiscardFacts {
	j.m.mu.Lock()
	j.mu.Lock()
	est := j.discard
	stale := !est.running && !j.m.closed && (!est.valid && est.err == nil || est.valid && time.Since(est.when) > discardTTL)
	if stale {
		j.discard.running = true
		j.m.wg.Add(1)
	}
	j.mu.Unlock()
	j.m.mu.Unlock()
	if stale {
		go func() {
			defer j.m.wg.Done()
			ctx, cancel := context.WithTimeout(j.m.ctx, 5*time.Minute)
			defer cancel()
			e := j.measureDiscard(ctx)
			e.when = time.Now()
			j.mu.Lock()
			j.discard = e
			j.mu.Unlock()
			j.m.hub.notify()
		}()
	}
	return DiscardFacts{Measured: est.valid, Bytes: est.bytes, At: est.at, Err: est.err}
}

func lastMoved(r *jobRecord) int64 {
	var n int64
	for _, v := range r.VMs {
		for _, d := range v.Disks {
			if p := d.lastDone(); p != nil {
				n += p.Stats.BytesTransferred
			}
		}
	}
	return n
}

func countPasses(r *jobRecord) int {
	n := 0
	for _, v := range r.VMs {
		for _, d := range v.Disks {
			n += len(d.Passes)
		}
	}
	return n
}

// Act implements Service. The state changes before Act returns, so a
// caller that waits for a resting state never sees the old one.
func (m *Manager) Act(ctx context.Context, id string, a Action, who Actor) error {
	if err := notAllowed(who); err != nil {
		return err
	}
	if m.deps.ReadOnly {
		return ErrReadOnly
	}
	j, ok := m.job(id)
	if !ok {
		return fmt.Errorf("job %s: %w", id, ErrUnknownJob)
	}
	var ok2 bool
	var why string
	for _, st := range j.actions(who) {
		if st.Action == a {
			ok2, why = st.Enabled, st.Why
		}
	}
	if !ok2 {
		if why == "" {
			why = "unknown action"
		}
		j.record(&who, "warn", string(a), "refused", fmt.Sprintf("%s asked to %s: refused (%s)", who.Name, a, why))
		return fmt.Errorf("%s job %s: %w: %s", a, id, ErrRefused, why)
	}
	j.record(&who, "info", string(a), "accepted", fmt.Sprintf("%s asked to %s (via %s)", who.Name, a, who.Via))
	switch a {
	case ActResume:
		j.resume(&who, "resumed by "+who.Name)
		return nil
	case ActStopReverse:
		if j.waitCh() == nil {
			return j.setState(StateCommitted)
		}
		j.interrupt(errStopReverse)
		return nil
	}
	next := map[Action]struct {
		f flow
		s JobState
	}{
		ActComplete:    {flowComplete, StateShutdown},
		ActCommit:      {flowCommit, StateCommitting},
		ActReverse:     {flowReverse, StateReverse},
		ActReverseOnce: {flowReverse, StateReverse},
		ActCancel:      {flowCancel, StateCancelling},
		ActUndo:        {flowUndo, StateUndoing},
		ActUndoRemove:  {flowUndo, StateUndoing},
		ActEndTest:     {flowEndTest, StateEndingTest},
	}[a]
	if a == ActCancel && j.snap().Test != nil {
		// Cancelling a test ends it: nothing of the VMs' to roll back.
		next.f, next.s = flowEndTest, StateEndingTest
	}
	if err := j.supersede(func(r *jobRecord) {
		r.Flow, r.State, r.Error = next.f, next.s, ""
		if a == ActReverse || a == ActReverseOnce {
			r.ReverseOnce = a == ActReverseOnce
		}
		if a == ActUndo || a == ActUndoRemove {
			r.RemoveCreated = a == ActUndoRemove
		}
	}); err != nil {
		return err
	}
	j.record(nil, "info", "state", string(next.s), "state: "+string(next.s))
	j.kick()
	return nil
}

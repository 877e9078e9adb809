package workflow

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// allActions is the order Actions reports them in.
var allActions = []Action{ActComplete, ActCommit, ActReverse, ActCancel, ActUndo, ActResume, ActReverseOnce, ActStopReverse}

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

func (j *job) actions(who Actor) []ActionState {
	r := j.snap()
	j.mu.Lock()
	running := j.running
	j.mu.Unlock()
	out := make([]ActionState, 0, len(allActions))
	for _, a := range allActions {
		st := ActionState{Action: a}
		st.Enabled, st.Why = j.allowed(&r, a, running)
		if st.Enabled {
			st.Confirm = j.confirm(&r, a)
		}
		if st.Enabled && notAllowed(who) != nil {
			st.Enabled, st.Why = false, ErrNotAllowed.Error()
		}
		out = append(out, st)
	}
	return out
}

// stoppedIn is the state a failed or interrupted job stopped in.
func stoppedIn(r *jobRecord) bool { return r.State == StateFailed || r.State == StateInterrupted }

func anyStarted(r *jobRecord) bool {
	for _, v := range r.VMs {
		if v.StartedOnPrem && !v.StoppedOnPrem {
			return true
		}
	}
	return false
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

// allowed says whether action a applies to the job now, and if not why.
func (j *job) allowed(r *jobRecord, a Action, running bool) (bool, string) {
	st := r.State
	switch {
	case st.Final():
		return false, "the job is " + string(st)
	case st == StateCancelling || r.Flow == flowCancel && a != ActCancel && a != ActResume:
		return false, "the job is being cancelled"
	}
	switch a {
	case ActComplete:
		switch {
		case r.Choices.Sync == SyncFull:
			return false, "a full download has no phase 1: it completes by itself"
		case r.Flow == flowComplete && stoppedIn(r):
			return true, ""
		case r.Flow != flowStart:
			return false, "failover already completed"
		case st == StatePhase1 || st == StatePreflight || !phase1Done(r):
			return false, "phase 1 still running"
		case st == StateReady || st == StateCatchUp || stoppedIn(r):
			return true, ""
		}
		return false, "not while " + string(st)
	case ActCommit:
		switch {
		case st == StatePendingCommit, r.Flow == flowCommit && stoppedIn(r):
			return true, ""
		case st == StateCommitted || st == StateReverse:
			return false, "already committed"
		}
		return false, "only after phase 2, when the on-premises VMs run (pending commit)"
	case ActReverse, ActReverseOnce:
		switch {
		case st == StateCommitted, r.Flow == flowReverse && stoppedIn(r):
			return true, ""
		case st == StateReverse:
			return false, "reverse replication is running"
		}
		return false, "only after commit"
	case ActStopReverse:
		if st == StateReverse {
			return true, ""
		}
		return false, "reverse replication is not running"
	case ActCancel:
		switch {
		case r.Flow == flowCommit || r.Flow == flowReverse || st == StateCommitted:
			return false, "only before commit"
		case anyStarted(r) || st == StatePendingCommit:
			return false, "the on-premises VMs already run: Undo makes Azure the running side again"
		case r.Flow == flowUndo:
			return false, "the job is being undone"
		}
		return true, ""
	case ActUndo:
		switch {
		case r.Flow == flowCommit || r.Flow == flowReverse || st == StateCommitted:
			return false, "only before commit"
		case st == StatePendingCommit, r.Flow == flowUndo && stoppedIn(r), anyStarted(r) && stoppedIn(r):
			return true, ""
		}
		return false, "only after phase 2 (the on-premises VMs run), before commit; before that, Cancel"
	case ActResume:
		if stoppedIn(r) {
			return true, ""
		}
		if running {
			return false, "the job is running"
		}
		return false, "only a failed or interrupted job resumes"
	}
	return false, "unknown action"
}

// confirm says exactly what an action will do.
func (j *job) confirm(r *jobRecord, a Action) string {
	azureVMs, onprem := vmNames(r, func(v vmRecord) string { return v.AzureVM }), vmNames(r, func(v vmRecord) string { return v.Name })
	switch a {
	case ActComplete:
		return fmt.Sprintf("Shut down the Azure VMs %s (the downtime starts), snapshot their disks once more, copy what changed since the last snapshot (the last catch-up pass moved %s), verify it, then start on premises group by group: %s.",
			azureVMs, bytesText(lastMoved(r)), groupText(r))
	case ActCommit:
		return fmt.Sprintf("Delete the Azure VMs %s. Their disk blobs stay as the replica for reverse replication; this job's snapshots are deleted except the last of each disk, and the undo journals are discarded: the failback can no longer be undone or cancelled.", azureVMs)
	case ActReverse:
		return fmt.Sprintf("Every %s, send the blocks changed on premises since the last cycle to the disk blobs (found from block checksums, never by downloading) and keep a snapshot of each as a recovery point (the newest %d are kept).",
			j.m.cfg.Reverse.Interval.D(), j.m.cfg.Reverse.KeepRecoveryPoints)
	case ActReverseOnce:
		return "Send the blocks changed on premises since the failback (or the last cycle) to the disk blobs once, snapshot them as a recovery point, and rest committed."
	case ActStopReverse:
		return "Stop reverse replication now; an unfinished cycle is sent again by the next one."
	case ActCancel:
		restart := vmNames(r, func(v vmRecord) string {
			if v.ShutByJob && !v.AzureRestarted {
				return v.AzureVM
			}
			return ""
		})
		s := fmt.Sprintf("Stop the job (it is %s), roll every on-premises disk back to exactly what it held before the job (%d pass(es) to undo), delete this job's snapshots", r.State, countPasses(r))
		if restart != "" {
			s += ", and start the Azure VMs this job shut down: " + restart
		}
		return s + "."
	case ActUndo:
		return fmt.Sprintf("Stop the on-premises VMs %s, start the Azure VMs %s again, delete this job's snapshots and undo journals. WARNING: %s",
			onprem, azureVMs, j.discardText())
	case ActResume:
		return fmt.Sprintf("Continue the job (%s) from where it stopped in %s: every finished block is kept in the journals and not sent again.", r.Flow, r.Was)
	}
	return ""
}

// discardText says what Undo leaves behind, measuring it in the
// background when the last figure is missing or old.
func (j *job) discardText() string {
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
	switch {
	case est.valid:
		return fmt.Sprintf("every change the on-premises VMs made since the failback is discarded: %s (%d bytes) changed, measured at %s.", bytesText(est.bytes), est.bytes, est.at)
	case est.err != nil:
		return "every change the on-premises VMs made since the failback is discarded (how much could not be measured: " + est.err.Error() + ")."
	}
	return "every change the on-premises VMs made since the failback is discarded (measuring how much…)."
}

func vmNames(r *jobRecord, f func(vmRecord) string) string {
	var out []string
	for _, v := range r.VMs {
		if s := f(v); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

func groupText(r *jobRecord) string {
	groups := map[int][]string{}
	var keys []int
	for _, v := range r.VMs {
		if _, ok := groups[v.Group]; !ok {
			keys = append(keys, v.Group)
		}
		groups[v.Group] = append(groups[v.Group], v.Name)
	}
	sort.Ints(keys)
	var parts []string
	for _, g := range keys {
		parts = append(parts, fmt.Sprintf("%d: %s", g, strings.Join(groups[g], ", ")))
	}
	return strings.Join(parts, "; ")
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
	}[a]
	if err := j.supersede(func(r *jobRecord) {
		r.Flow, r.State, r.Error = next.f, next.s, ""
		if a == ActReverse || a == ActReverseOnce {
			r.ReverseOnce = a == ActReverseOnce
		}
	}); err != nil {
		return err
	}
	j.record(nil, "info", "state", string(next.s), "state: "+string(next.s))
	j.kick()
	return nil
}

package uitest

import (
	"context"
	"fmt"

	"github.com/failback/failback/config"
	"github.com/failback/failback/workflow"
)

// reverseDefaults holds the reverse replication settings the fake quotes: the
// configuration's defaults, as a Manager without [reverse] has them.
var reverseDefaults = config.Default().Reverse

// facts are what the action rules read of job j, taken from the fake's
// own data: the flow follows from the state (the fake keeps none), the
// VMs' power from what Advance set. The caller holds f.mu.
func (f *Fake) facts(j *workflow.JobView) workflow.ActionFacts {
	was := f.was[j.ID]
	at := j.State
	if at.Stopped() {
		at = was
	}
	af := workflow.ActionFacts{
		State: j.State, Was: was, Flow: flowOf(at, j.Choices.Sync), Sync: j.Choices.Sync,
		Phase1Done:   at != workflow.StatePreflight && at != workflow.StatePhase1,
		Running:      j.State.Moving(),
		ReverseEvery: reverseDefaults.Interval.D(), KeepRecoveryPoints: reverseDefaults.KeepRecoveryPoints,
	}
	af.CompleteNow = f.figured(j).CompleteNow
	for _, v := range j.VMs {
		af.VMs = append(af.VMs, workflow.VMFacts{
			Name: v.Name, AzureVM: f.azureVM(v.Name), Group: v.Group,
			OnPrem: v.OnPremState == "running", ShutAzure: v.AzureState == "stopped",
			// A VM at an alternate location the job was asked to create
			// was created there (the fake's hosts never hold it before).
			Created: j.Choices.CreateVM && j.Choices.Location == workflow.LocAlternate && !j.State.Final(), Host: v.Host,
		})
		for _, d := range v.Disks {
			if d.Phase != "waiting" {
				af.Passes++
			}
			if d.Phase == "done" {
				af.LastMoved += d.BytesTransferred
			}
		}
	}
	if af.Flow == workflow.FlowComplete && at != workflow.StateShutdown {
		// Phase 2 shows its final pass; phase 1's lies under it.
		for _, v := range j.VMs {
			af.Passes += len(v.Disks)
		}
	}
	return af
}

// flowOf is the flow a job in state s is in: the one the Manager's
// record would hold.
func flowOf(s workflow.JobState, sync workflow.SyncOption) workflow.Flow {
	switch s {
	case workflow.StateShutdown, workflow.StatePhase2, workflow.StateVerify, workflow.StateStarting, workflow.StatePendingCommit:
		if sync == workflow.SyncFull {
			return workflow.FlowStart // a full download runs up to pending commit at once
		}
		return workflow.FlowComplete
	case workflow.StateCommitting, workflow.StateCommitted:
		return workflow.FlowCommit
	case workflow.StateReverse:
		return workflow.FlowReverse
	case workflow.StateCancelling, workflow.StateCancelled:
		return workflow.FlowCancel
	case workflow.StateUndoing, workflow.StateUndone:
		return workflow.FlowUndo
	}
	return workflow.FlowStart
}

// azureVM is the Azure name of the on-premises VM name.
func (f *Fake) azureVM(name string) string {
	for _, p := range f.plans {
		for _, g := range p.Groups {
			for _, v := range g {
				if v.Name == name {
					return v.AzureVM
				}
			}
		}
	}
	return ""
}

// Actions implements workflow.Service with the workflow's own rules.
func (f *Fake) Actions(id string, who workflow.Actor) []workflow.ActionState {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.find(id)
	if j == nil {
		return nil
	}
	out := workflow.ActionRules(f.facts(j), who)
	for i, st := range out {
		if text, ok := f.confirms[st.Action]; ok && st.Enabled {
			out[i].Confirm = text
		}
	}
	return out
}

// SetConfirm replaces the confirmation text of action a while it is
// enabled (as the workflow refines Undo's once it has measured), and
// notifies.
func (f *Fake) SetConfirm(a workflow.Action, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.confirms == nil {
		f.confirms = map[workflow.Action]string{}
	}
	f.confirms[a] = text
	f.notify()
}

// Act implements workflow.Service.
func (f *Fake) Act(ctx context.Context, id string, a workflow.Action, who workflow.Actor) error {
	if err := f.enter(ctx, "Act"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acts = append(f.acts, ActCall{Ctx: ctx, ID: id, Action: a, Who: who})
	if err := f.canAct(who); err != nil {
		return err
	}
	j := f.find(id)
	if j == nil {
		return fmt.Errorf("no job %s: it may have been removed", id)
	}
	st := workflow.ActionState{Action: a}
	for _, s := range workflow.ActionRules(f.facts(j), who) {
		if s.Action == a {
			st = s
		}
	}
	if !st.Enabled {
		return fmt.Errorf("%s not possible now: %s", a, st.Why)
	}
	switch a {
	case workflow.ActComplete:
		j.State = workflow.StateShutdown
	case workflow.ActCommit:
		j.State = workflow.StateCommitting
	case workflow.ActReverse:
		j.State = workflow.StateReverse
	case workflow.ActCancel:
		j.State = workflow.StateCancelling
	case workflow.ActUndo, workflow.ActUndoRemove:
		j.State = workflow.StateUndoing
	case workflow.ActResume:
		// Back to where it stopped, as the confirmation says.
		j.State, j.Error = f.was[id], ""
		if j.State == "" {
			j.State = workflow.StatePhase1
		}
	case workflow.ActReverseOnce:
		j.State = workflow.StateReverse
	case workflow.ActStopReverse:
		j.State = workflow.StateCommitted
	}
	j.Updated = f.tick()
	f.logf(id, "info", "%s requested by %s via %s", a, who.Name, who.Via)
	f.notify()
	return nil
}

package uitest

import (
	"context"
	"fmt"
	"strings"

	"github.com/failback/failback/workflow"
)

// allActions is the order the console lists actions in.
var allActions = []workflow.Action{
	workflow.ActComplete, workflow.ActCommit, workflow.ActReverse, workflow.ActCancel, workflow.ActUndo,
	workflow.ActResume, workflow.ActReverseOnce, workflow.ActStopReverse,
}

func vmNames(j *workflow.JobView) string {
	var n []string
	for _, v := range j.VMs {
		n = append(n, v.Name)
	}
	return strings.Join(n, ", ")
}

// actionsFor is the fake's state machine for what applies when.
func actionsFor(j *workflow.JobView) map[workflow.Action]workflow.ActionState {
	m := map[workflow.Action]workflow.ActionState{}
	off := func(a workflow.Action, why string) { m[a] = workflow.ActionState{Action: a, Why: why} }
	on := func(a workflow.Action, confirm string) {
		m[a] = workflow.ActionState{Action: a, Enabled: true, Confirm: confirm}
	}
	off(workflow.ActComplete, "not ready")
	off(workflow.ActCommit, "the VMs do not run on-premises yet")
	off(workflow.ActReverse, "commit first")
	off(workflow.ActUndo, "nothing to undo before phase 2")
	off(workflow.ActResume, "only a failed or interrupted job resumes")
	off(workflow.ActReverseOnce, "only after commit")
	off(workflow.ActStopReverse, "reverse replication is not running")
	cancel := fmt.Sprintf("Stop %s and put every on-premises disk back exactly as it was before the failback. The Azure VMs keep running.", j.Title)
	switch j.State {
	case workflow.StatePhase1, workflow.StateCatchUp, workflow.StatePreflight:
		off(workflow.ActComplete, "phase 1 still running")
		on(workflow.ActCancel, cancel)
	case workflow.StateReady:
		on(workflow.ActComplete, fmt.Sprintf("Shut down the Azure VMs (%s), copy the last changes, then start them on-premises. Downtime begins now.", vmNames(j)))
		on(workflow.ActCancel, cancel)
	case workflow.StateShutdown, workflow.StatePhase2, workflow.StateVerify, workflow.StateStarting:
		off(workflow.ActComplete, "phase 2 is running")
		on(workflow.ActCancel, "Stop phase 2, restore the on-premises disks and start the Azure VMs again.")
	case workflow.StatePendingCommit:
		off(workflow.ActComplete, "already completed")
		on(workflow.ActCommit, fmt.Sprintf("Delete the Azure VMs (%s) and keep the on-premises ones. Undo is no longer possible afterwards.", vmNames(j)))
		on(workflow.ActUndo, "Stop the on-premises VMs, restore their disks and start the Azure VMs again.")
		off(workflow.ActCancel, "the VMs run on-premises now: use Undo")
	case workflow.StateCommitted:
		off(workflow.ActComplete, "already completed")
		off(workflow.ActCommit, "already committed")
		off(workflow.ActUndo, "committed: the Azure VMs are gone")
		on(workflow.ActReverse, "Protect the on-premises VMs back to Azure, sending only what changed since the failback.")
		on(workflow.ActReverseOnce, "Send the blocks changed on premises since the failback to the disk blobs once, then rest committed.")
		off(workflow.ActCancel, "only before commit")
	case workflow.StateReverse:
		off(workflow.ActComplete, "already completed")
		off(workflow.ActCommit, "already committed")
		off(workflow.ActReverse, "reverse replication is running")
		off(workflow.ActReverseOnce, "reverse replication is running")
		on(workflow.ActStopReverse, "Stop reverse replication now; an unfinished cycle is sent again by the next one.")
		off(workflow.ActCancel, "only before commit")
		off(workflow.ActUndo, "only before commit")
	case workflow.StateFailed, workflow.StateInterrupted:
		off(workflow.ActComplete, "the job stopped: "+j.Error)
		on(workflow.ActResume, fmt.Sprintf("Continue %s from where it stopped: every finished block is kept in the journals and not sent again.", j.Title))
		on(workflow.ActCancel, cancel)
	default:
		off(workflow.ActComplete, "the job is "+string(j.State))
		off(workflow.ActCancel, "the job is "+string(j.State))
	}
	return m
}

// Actions implements workflow.Service.
func (f *Fake) Actions(id string, who workflow.Actor) []workflow.ActionState {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.find(id)
	if j == nil {
		return nil
	}
	m := actionsFor(j)
	out := make([]workflow.ActionState, 0, len(allActions))
	for _, a := range allActions {
		st := m[a]
		if text, ok := f.confirms[a]; ok && st.Enabled {
			st.Confirm = text
		}
		if who.Role != workflow.RoleOperator {
			st = workflow.ActionState{Action: a, Why: ErrViewer.Error()}
		}
		out = append(out, st)
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
	st := actionsFor(j)[a]
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
	case workflow.ActUndo:
		j.State = workflow.StateUndoing
	case workflow.ActResume:
		j.State, j.Error = workflow.StatePhase1, ""
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

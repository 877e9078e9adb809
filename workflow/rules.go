package workflow

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/failback/failback/internal/units"
)

// The action rules: which action applies to a job when, why not, and
// what it will do. They are a pure function of ActionFacts so that every
// implementation of Service answers with the same rules and the same
// words: the Manager takes the facts from its job record, the console's
// test fake from its own data.

// Flow is the part of its life a job is in: what Start or the operator's
// last action set going. A stopped job keeps its flow, so the rules can
// tell one that failed completing failover from one that failed in phase 1.
type Flow string

// The flows, spelled as the job record stores them.
const (
	FlowStart    = Flow(flowStart)    // phase 1 and catch-up (delta), or the whole full download
	FlowComplete = Flow(flowComplete) // Complete failover: phase 2 up to pending commit
	FlowCommit   = Flow(flowCommit)   // Commit: delete the Azure VMs
	FlowReverse  = Flow(flowReverse)  // reverse replication
	FlowCancel   = Flow(flowCancel)   // Cancel: roll the disks back
	FlowUndo     = Flow(flowUndo)     // Undo: Azure runs again
)

// ActionFacts are everything the action rules read of one job.
type ActionFacts struct {
	State JobState
	// Was is the state a failed or interrupted job stopped in.
	Was  JobState
	Flow Flow
	Sync SyncOption
	// Phase1Done says every disk has finished its phase 1 pass.
	Phase1Done bool
	// Running says a flow drives the job now.
	Running bool
	// VMs are the job's VMs in its order.
	VMs []VMFacts
	// LastMoved is what the newest finished pass of every disk moved, in
	// all (Complete failover quotes it when nothing better is known).
	LastMoved int64
	// CompleteNow is the live estimate of what Complete failover would
	// move and cost now (JobView.CompleteNow), which its confirmation
	// quotes.
	CompleteNow *CompleteEstimate
	// Passes counts the passes synced onto the disks: what Cancel rolls
	// back.
	Passes int
	// ReverseEvery and KeepRecoveryPoints are the reverse replication
	// settings Reverse replicate quotes.
	ReverseEvery       time.Duration
	KeepRecoveryPoints int
	// DeleteDisks says Commit deletes the managed disks too.
	DeleteDisks bool
	// Replicas says a storage account for the replicas of managed disks
	// is configured (reverse replication of such VMs needs one).
	Replicas bool
	// Discard is the last measure of what Undo throws away. It is read
	// only while Undo applies, so a caller fills it only then (measuring
	// reads every on-premises image).
	Discard DiscardFacts
	// Test says the job is a test failback; TestSwitches names the
	// switches it created (End test removes them).
	Test         bool
	TestSwitches []string
}

// VMFacts are what the action rules read of one VM of a job.
type VMFacts struct {
	Name    string // on premises
	AzureVM string
	Group   int // plan group, from 1
	// OnPrem says this job started the VM on premises and has not
	// stopped it since.
	OnPrem bool
	// ShutAzure says this job shut the Azure VM down and has not started
	// it again: Cancel starts it.
	ShutAzure bool
	// NICs and PublicIPs name the network interfaces and public IP
	// addresses Commit deletes with the VM.
	NICs, PublicIPs []string
	// Managed says the VM runs on managed disks (else page blobs).
	Managed bool
	// Created says this job created the VM on Host (an alternate
	// location) and has not removed it: Undo says what becomes of it.
	Created bool
	Host    string
	// TestVM is a test failback's test VM ("db01-test").
	TestVM string
}

// DiscardFacts are what Undo would throw away: what the on-premises VMs
// changed since the failback, once measured.
type DiscardFacts struct {
	Measured bool
	Bytes    int64
	At       string // when it was measured, as the text says it
	Err      error  // why it could not be measured
}

// ActionOrder returns every action in the order Service.Actions lists
// them. It is a fresh slice, so no caller can reorder another's.
func ActionOrder() []Action {
	return []Action{ActComplete, ActCommit, ActReverse, ActCancel, ActUndo, ActResume, ActReverseOnce, ActStopReverse, ActUndoRemove, ActEndTest}
}

// ActionRules says, for each action in ActionOrder, whether it applies to
// a job with facts f now and, if not, why; and for those that apply, what
// they will do. A viewer is told what would apply but may do none of it.
func ActionRules(f ActionFacts, who Actor) []ActionState {
	order := ActionOrder()
	out := make([]ActionState, 0, len(order))
	for _, a := range order {
		st := ActionState{Action: a, Hidden: a == ActEndTest && !f.Test}
		st.Enabled, st.Why = allowed(&f, a)
		if st.Enabled {
			st.Confirm = confirm(&f, a)
		}
		if st.Enabled && notAllowed(who) != nil {
			st.Enabled, st.Why = false, ErrNotAllowed.Error()
		}
		out = append(out, st)
	}
	return out
}

// onPremRunning says the job has started a VM on premises that still runs.
func (f *ActionFacts) onPremRunning() bool {
	for _, v := range f.VMs {
		if v.OnPrem {
			return true
		}
	}
	return false
}

// allowed says whether action a applies to the job now, and if not why.
func allowed(f *ActionFacts, a Action) (bool, string) {
	st := f.State
	switch {
	case st.Final():
		return false, "the job is " + string(st)
	case f.Test:
		return testAllowed(f, a)
	case st == StateCancelling || f.Flow == FlowCancel && a != ActCancel && a != ActResume:
		return false, "the job is being cancelled"
	}
	switch a {
	case ActEndTest:
		return false, "only a test failback has a test to end"
	case ActComplete:
		switch {
		case f.Sync == SyncFull:
			return false, "a full download has no phase 1: it completes by itself"
		case f.Flow == FlowComplete && st.Stopped():
			return true, ""
		case f.Flow != FlowStart:
			return false, "failover already completed"
		case st.Stopped() && !f.Phase1Done:
			return false, "phase 1 did not finish: resume it first"
		case st == StatePhase1 || st == StatePreflight || !f.Phase1Done:
			return false, "phase 1 still running"
		case st == StateReady || st == StateCatchUp || st.Stopped():
			return true, ""
		}
		return false, "not while " + string(st)
	case ActCommit:
		switch {
		case st == StatePendingCommit, f.Flow == FlowCommit && st.Stopped():
			return true, ""
		case st == StateCommitted || st == StateReverse:
			return false, "already committed"
		}
		return false, "only after phase 2, when the on-premises VMs run (pending commit)"
	case ActReverse, ActReverseOnce:
		switch {
		case f.anyManaged() && !f.Replicas && (st == StateCommitted || st == StateReverse):
			return false, "the VMs ran on managed disks, which take no writes: reverse replication needs a storage account for their replicas ([reverse.storage] or [azure.storage] in config.toml)"
		case st == StateCommitted, f.Flow == FlowReverse && st.Stopped():
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
		case f.Flow == FlowCommit || f.Flow == FlowReverse || st == StateCommitted:
			return false, "only before commit"
		case f.onPremRunning() || st == StatePendingCommit:
			return false, "the on-premises VMs already run: Undo makes Azure the running side again"
		case f.Flow == FlowUndo:
			return false, "the job is being undone"
		}
		return true, ""
	case ActUndo:
		switch {
		case f.Flow == FlowCommit || f.Flow == FlowReverse || st == StateCommitted:
			return false, "only before commit"
		case st == StatePendingCommit, f.Flow == FlowUndo && st.Stopped(), f.onPremRunning() && st.Stopped():
			return true, ""
		}
		return false, "only after phase 2 (the on-premises VMs run), before commit; before that, Cancel"
	case ActUndoRemove:
		if created(f) == "" {
			return false, "this job created no VM to remove"
		}
		return allowed(f, ActUndo)
	case ActResume:
		return resumeAllowed(f)
	}
	return false, "unknown action"
}

// resumeAllowed is Resume's rule, a test's too.
func resumeAllowed(f *ActionFacts) (bool, string) {
	if f.State.Stopped() {
		return true, ""
	}
	if f.Running {
		return false, "the job is running"
	}
	return false, "only a failed or interrupted job resumes"
}

// commitText says what Commit deletes in Azure and what it keeps.
func commitText(f *ActionFacts, azureVMs string) string {
	var nics, ips []string
	managed, blobs := false, false
	for _, v := range f.VMs {
		nics, ips = append(nics, v.NICs...), append(ips, v.PublicIPs...)
		managed, blobs = managed || v.Managed, blobs || !v.Managed
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Delete the Azure VMs %s", azureVMs)
	switch {
	case len(nics) > 0 && len(ips) > 0:
		fmt.Fprintf(&b, ", their network interfaces %s and public IP addresses %s", strings.Join(nics, ", "), strings.Join(ips, ", "))
	case len(nics) > 0:
		fmt.Fprintf(&b, " and their network interfaces %s", strings.Join(nics, ", "))
	}
	b.WriteString(".")
	if managed && f.DeleteDisks {
		b.WriteString(" Their managed disks are deleted too ([commit] delete_disks); the newest snapshot of each stays as the base of reverse replication.")
	} else if managed {
		b.WriteString(" Their managed disks stay, and the newest snapshot of each as the base of reverse replication.")
	}
	if blobs {
		b.WriteString(" Page-blob disks stay as the replica for reverse replication.")
	}
	b.WriteString(" This job's other snapshots are deleted and the undo journals discarded: the failback can no longer be undone or cancelled.")
	return b.String()
}

// confirm says exactly what an action will do.
func confirm(f *ActionFacts, a Action) string {
	if f.Test && (a == ActEndTest || a == ActCancel) {
		return testConfirm(f)
	}
	azureVMs, onprem := vmNames(f, func(v VMFacts) string { return v.AzureVM }), vmNames(f, func(v VMFacts) string { return v.Name })
	switch a {
	case ActComplete:
		if e := f.CompleteNow; e != nil {
			return fmt.Sprintf("Shut down the Azure VMs %s (the downtime starts), snapshot their disks once more, copy what changed since the last snapshot, verify it, then start on premises group by group: %s. %s (measured now: %s).",
				azureVMs, groupText(f), e.Text(), e.Basis)
		}
		return fmt.Sprintf("Shut down the Azure VMs %s (the downtime starts), snapshot their disks once more, copy what changed since the last snapshot (the last catch-up pass moved %s), verify it, then start on premises group by group: %s.",
			azureVMs, units.Bytes(f.LastMoved), groupText(f))
	case ActCommit:
		return commitText(f, azureVMs)
	case ActReverse:
		return fmt.Sprintf("Every %s, send the blocks changed on premises since the last cycle to the disk blobs (found from block checksums, never by downloading) and keep a snapshot of each as a recovery point (the newest %d are kept).",
			f.ReverseEvery, f.KeepRecoveryPoints)
	case ActReverseOnce:
		return "Send the blocks changed on premises since the failback (or the last cycle) to the disk blobs once, snapshot them as a recovery point, and rest committed."
	case ActStopReverse:
		return "Stop reverse replication now; an unfinished cycle is sent again by the next one."
	case ActCancel:
		restart := vmNames(f, func(v VMFacts) string {
			if v.ShutAzure {
				return v.AzureVM
			}
			return ""
		})
		s := fmt.Sprintf("Stop the job (it is %s), roll every on-premises disk back to exactly what it held before the job (%d pass(es) to undo), delete this job's snapshots", f.State, f.Passes)
		if restart != "" {
			s += ", and start the Azure VMs this job shut down: " + restart
		}
		return s + "."
	case ActUndo, ActUndoRemove:
		s := fmt.Sprintf("Stop the on-premises VMs %s, start the Azure VMs %s again, delete this job's snapshots and undo journals. WARNING: %s",
			onprem, azureVMs, discardText(f.Discard))
		switch c := created(f); {
		case c == "":
		case a == ActUndoRemove:
			s += " Then remove the VMs this job created, " + c + ", with the disks it made for them."
		default:
			s += " The VMs this job created, " + c + ", stay there, off, with their disks: Undo and remove them (U; failback undo --remove-created) takes them away too."
		}
		return s
	case ActResume:
		return fmt.Sprintf("Continue the job (%s) from where it stopped in %s: every finished block is kept in the journals and not sent again.", f.Flow, f.Was)
	}
	return ""
}

// discardText says what Undo leaves behind, as far as it is known.
func discardText(d DiscardFacts) string {
	switch {
	case d.Measured:
		return fmt.Sprintf("every change the on-premises VMs made since the failback is discarded: %s (%d bytes) changed, measured at %s.", units.Bytes(d.Bytes), d.Bytes, d.At)
	case d.Err != nil:
		return "every change the on-premises VMs made since the failback is discarded (how much could not be measured: " + d.Err.Error() + ")."
	}
	return "every change the on-premises VMs made since the failback is discarded (measuring how much…)."
}

func vmNames(f *ActionFacts, name func(VMFacts) string) string {
	var out []string
	for _, v := range f.VMs {
		if s := name(v); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// groupText lists the VMs group by group, in the order they start.
func groupText(f *ActionFacts) string {
	groups := map[int][]string{}
	var keys []int
	for _, v := range f.VMs {
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

// created names the VMs this job created and still holds ("web01 on
// hv02, web02 on hv02"), "" for none.
func created(f *ActionFacts) string {
	return vmNames(f, func(v VMFacts) string {
		if !v.Created {
			return ""
		}
		return v.Name + " on " + v.Host
	})
}

// anyManaged says a VM of the job ran on managed disks.
func (f *ActionFacts) anyManaged() bool {
	for _, v := range f.VMs {
		if v.Managed {
			return true
		}
	}
	return false
}

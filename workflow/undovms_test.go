package workflow_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// Undo of a failback that created its VM at an alternate location says
// what becomes of that VM (it stays, off, with its disks) and offers to
// remove it; Undo and remove takes it away with its disks, and the
// original host's VM is left alone.
func TestUndoSaysWhatBecomesOfCreatedVMsAndRemovesThem(t *testing.T) {
	vm := labtest.VM{Name: "app", Disks: []int64{2 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, AltHosts: []string{"hv02"}})
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := workflow.Choices{VM: "app", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull,
		Location: workflow.LocAlternate, AltHost: "hv02", CreateVM: true}
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	created, err := l.Hosts["hv02"].GetVM(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	undo := labtest.Action(m, id, workflow.ActUndo)
	if !undo.Enabled || !strings.Contains(undo.Confirm, "app on hv02, stay there, off, with their disks") || !strings.Contains(undo.Confirm, "failback undo --remove-created") {
		t.Fatalf("undo: %+v", undo)
	}
	rm := labtest.Action(m, id, workflow.ActUndoRemove)
	if !rm.Enabled || !strings.Contains(rm.Confirm, "remove the VMs this job created, app on hv02, with the disks it made for them") {
		t.Fatalf("undo and remove: %+v", rm)
	}
	if err := m.Act(ctx, id, workflow.ActUndoRemove, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateUndone)
	if _, err := l.Hosts["hv02"].GetVM(ctx, "app"); err == nil {
		t.Fatal("the VM the job created is still on hv02")
	}
	for _, d := range created.Disks {
		if _, err := os.Stat(d.HostPath); err == nil {
			t.Fatalf("its disk %s is still there", d.HostPath)
		}
	}
	if _, err := l.Hosts["hv01"].GetVM(ctx, "app"); err != nil {
		t.Fatalf("the original VM: %v", err)
	}
	if log := labtest.LogText(m, id); !strings.Contains(log, "VM app, which this job created on hv02, is removed with its disks") {
		t.Fatalf("log:\n%s", log)
	}
}

// A job that created no VM offers no removal.
func TestUndoRemoveNeedsACreatedVM(t *testing.T) {
	f := workflow.ActionFacts{State: workflow.StatePendingCommit, Flow: workflow.FlowComplete, Sync: workflow.SyncDelta,
		VMs: []workflow.VMFacts{{Name: "app", OnPrem: true, Host: "hv01"}}}
	for _, st := range workflow.ActionRules(f, labtest.Operator) {
		switch st.Action {
		case workflow.ActUndoRemove:
			if st.Enabled || st.Why != "this job created no VM to remove" {
				t.Fatalf("undo and remove without a created VM: %+v", st)
			}
		case workflow.ActUndo:
			if !st.Enabled || strings.Contains(st.Confirm, "remove") {
				t.Fatalf("undo: %+v", st)
			}
		}
	}
}

package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

const jobTimeout = 2 * time.Minute

func twoVMPlan() labtest.Options {
	return labtest.Options{
		VMs:       []labtest.VM{{Name: "db", Disks: []int64{8 << 20, 4 << 20}}, {Name: "web", Disks: []int64{6 << 20}}},
		Plans:     map[string][][]string{"app": {{"db"}, {"web"}}},
		MaxPasses: 2, StopBelow: "1K", Verify: true,
	}
}

func delta(plan string) workflow.Choices {
	return workflow.Choices{Plan: plan, Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal, Sync: workflow.SyncDelta}
}

// checkEqual fails unless every disk of the VMs holds its blob's bytes.
func checkEqual(t *testing.T, l *labtest.Lab, image func(vm string, i int) string, vms ...labtest.VM) {
	t.Helper()
	for _, vm := range vms {
		for i := range vm.Disks {
			want, got := l.BlobBytes(l.Blob(vm.Name, i)), labtest.ImageBytes(t, image(vm.Name, i))
			if d := labtest.FirstDiff(want, got); d >= 0 {
				t.Fatalf("%s disk %d differs from its blob at byte %d", vm.Name, i, d)
			}
		}
	}
}

func TestDeltaPlanWhileVMsWriteEqualsAzureAtShutdownThenCommit(t *testing.T) {
	o := twoVMPlan()
	l := labtest.New(t, o)
	l.StartWriters(100)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if v.Pass < 1 {
		t.Fatalf("no catch-up pass ran (pass %d)", v.Pass)
	}
	for _, vm := range o.VMs {
		ws, _ := l.Compute.WriterStatus(ctx, vm.Name)
		if ws.Writes == 0 || !ws.Writing {
			t.Fatalf("the Azure VM %s did not keep writing during phase 1: %+v", vm.Name, ws)
		}
	}
	st := labtest.Action(m, id, workflow.ActComplete)
	if !st.Enabled || !strings.Contains(st.Confirm, "db, web") || !strings.Contains(st.Confirm, "1: db; 2: web") {
		t.Fatalf("complete action: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)

	// The Azure VMs are off, so their disks are frozen: every on-premises
	// disk must hold exactly their bytes.
	for _, vm := range o.VMs {
		if ps, _ := l.Compute.State(ctx, vm.Name); !ps.Off() {
			t.Fatalf("Azure VM %s is %s after phase 2", vm.Name, ps)
		}
		got, err := l.Hosts["hv01"].GetVM(ctx, vm.Name)
		if err != nil || got.State != hyperv.StateRunning {
			t.Fatalf("on-premises VM %s: %v %v", vm.Name, got.State, err)
		}
	}
	checkEqual(t, l, l.Image, o.VMs...)
	log := labtest.LogText(m, id)
	g1, g2 := strings.Index(log, "group 1 runs on premises: db"), strings.Index(log, "group 2 runs on premises: web")
	if g1 < 0 || g2 < 0 || g1 > g2 {
		t.Fatalf("groups not started in plan order:\n%s", log)
	}
	if !strings.Contains(log, "catch-up pass 1") {
		t.Fatalf("catch-up passes not shown in the log:\n%s", log)
	}
	if st := labtest.Action(m, id, workflow.ActCancel); st.Enabled || !strings.Contains(st.Why, "Undo") {
		t.Fatalf("cancel after the on-premises VMs started: %+v", st)
	}

	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	for _, vm := range o.VMs {
		if _, err := l.Compute.State(ctx, vm.Name); !errors.Is(err, azure.ErrVMNotFound) {
			t.Fatalf("Azure VM %s not deleted: %v", vm.Name, err)
		}
		for i := range vm.Disks {
			d, err := l.Storage.OpenDisk(ctx, l.Container, l.Blob(vm.Name, i))
			if err != nil {
				t.Fatalf("the blob of %s disk %d is gone after commit: %v", vm.Name, i, err)
			}
			snaps, err := d.ListSnapshots(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(snaps) != 1 || snaps[0].JobID != id || snaps[0].Purpose != "final" {
				t.Fatalf("%s disk %d keeps snapshots %+v, want only the final baseline", vm.Name, i, snaps)
			}
		}
	}
}

// A page cleared in Azure after the last catch-up pass (a guest's TRIM)
// reads as zeros there; Azurite's diff does not list it, so the final
// pass finds it in the snapshots' listings, writes zeros, verifies them,
// and says that the diff and the listings disagreed. The on-premises
// disk then equals Azure, zeros included.
func TestTrimAfterLastCatchUpIsZeroedAndVerifiedDespiteTheDiff(t *testing.T) {
	o := labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{8 << 20}}}, MaxPasses: 1, StopBelow: "1K", Verify: true}
	l := labtest.New(t, o)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	d, err := l.Storage.OpenDisk(ctx, l.Container, l.Blob("db", 0))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.WriteZeroes(ctx, 2<<20, 2<<20); err != nil { // the guest trims 2 MiB
		t.Fatal(err)
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, o.VMs...)
	if log := labtest.LogText(m, id); !strings.Contains(log, "the diff and the listings disagree") {
		t.Fatalf("the disagreement is not in the log:\n%s", log)
	}
}

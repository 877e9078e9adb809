package workflow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// hashes records every image's content hash.
func hashes(t *testing.T, l *labtest.Lab, vms ...labtest.VM) map[string]string {
	out := map[string]string{}
	for _, vm := range vms {
		for i := range vm.Disks {
			out[l.Image(vm.Name, i)] = labtest.Hash(t, l.Image(vm.Name, i))
		}
	}
	return out
}

// checkRestored fails unless every image is byte for byte as before, the
// Azure VMs run and no snapshot of the job is left.
func checkRestored(t *testing.T, l *labtest.Lab, m *workflow.Manager, id string, before map[string]string, vms ...labtest.VM) {
	t.Helper()
	ctx := context.Background()
	for path, h := range before {
		if got := labtest.Hash(t, path); got != h {
			t.Fatalf("%s is not as before the job\n%s", path, labtest.LogText(m, id))
		}
	}
	for _, vm := range vms {
		if ps, err := l.Compute.State(ctx, vm.Name); err != nil || ps != azure.PowerRunning {
			t.Fatalf("Azure VM %s is %s (%v) after cancel", vm.Name, ps, err)
		}
		for i := range vm.Disks {
			d, _ := l.Storage.OpenDisk(ctx, l.Container, l.Blob(vm.Name, i))
			if snaps, _ := d.ListSnapshots(ctx); len(snaps) != 0 {
				t.Fatalf("snapshots left after cancel: %+v", snaps)
			}
		}
	}
}

func TestCancelDuringPhase1RestoresEveryDisk(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{8 << 20, 8 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Bandwidth: "3M"})
	l.StartWriters(100)
	before := hashes(t, l, vm)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "phase 1 to write", jobTimeout, func() bool {
		v, _ := m.Job(id)
		for _, d := range v.VMs[0].Disks {
			if d.BytesTransferred > 0 && d.Phase == "checksum" {
				return v.State == workflow.StatePhase1
			}
		}
		return false
	})
	if st := labtest.Action(m, id, workflow.ActComplete); st.Enabled || st.Why != "phase 1 still running" {
		t.Fatalf("complete during phase 1: %+v", st)
	}
	st := labtest.Action(m, id, workflow.ActCancel)
	if !st.Enabled || !strings.Contains(st.Confirm, "roll every on-premises disk back") {
		t.Fatalf("cancel during phase 1: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActCancel, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCancelled)
	checkRestored(t, l, m, id, before, vm)
	if !strings.Contains(labtest.LogText(m, id), "blocks restored") {
		t.Fatalf("no rollback in the log:\n%s", labtest.LogText(m, id))
	}
}

func TestCancelAtReadyToCompleteRestoresEveryDisk(t *testing.T) {
	o := twoVMPlan()
	l := labtest.New(t, o)
	l.StartWriters(100)
	before := hashes(t, l, o.VMs...)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if err := m.Act(ctx, id, workflow.ActCancel, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCancelled)
	checkRestored(t, l, m, id, before, o.VMs...)
	for _, a := range []workflow.Action{workflow.ActComplete, workflow.ActCancel, workflow.ActResume} {
		if st := labtest.Action(m, id, a); st.Enabled {
			t.Fatalf("%s offered on a cancelled job", a)
		}
	}
}

func TestCancelDuringPhase2AfterPowerOffStartsAzureAgain(t *testing.T) {
	o := twoVMPlan()
	l := labtest.New(t, o)
	l.StartWriters(100)
	before := hashes(t, l, o.VMs...)
	reached := make(chan struct{}, 1)
	d := l.Deps()
	d.StepHook = func(ctx context.Context, _, step string) error {
		if step != "verify" {
			return nil
		}
		reached <- struct{}{} // the final pass wrote everything; hold here
		<-ctx.Done()
		return context.Cause(ctx)
	}
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(jobTimeout):
		t.Fatalf("phase 2 never reached verification\n%s", labtest.LogText(m, id))
	}
	for _, vm := range o.VMs {
		if ps, _ := l.Compute.State(ctx, vm.Name); !ps.Off() {
			t.Fatalf("Azure VM %s is %s during phase 2", vm.Name, ps)
		}
	}
	st := labtest.Action(m, id, workflow.ActCancel)
	if !st.Enabled || !strings.Contains(st.Confirm, "start the Azure VMs this job shut down: db, web") {
		t.Fatalf("cancel during phase 2: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActCancel, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCancelled)
	checkRestored(t, l, m, id, before, o.VMs...)
	for _, vm := range o.VMs {
		if got, _ := l.Hosts["hv01"].GetVM(ctx, vm.Name); got.State != hyperv.StateOff {
			t.Fatalf("on-premises VM %s is %s after cancel", vm.Name, got.State)
		}
	}
}

func TestUndoStopsOnPremisesAndStatesWhatIsDiscarded(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	// The on-premises VM works: it changes three 256 KiB blocks.
	for _, off := range []int64{0, 1 << 20, 3 << 20} {
		labtest.WriteImage(t, l.Image("files", 0), off+4096, []byte(strings.Repeat("on-premises change ", 100)))
	}
	var st workflow.ActionState
	labtest.WaitFor(t, "the undo warning to be measured", 30*time.Second, func() bool {
		st = labtest.Action(m, id, workflow.ActUndo)
		return strings.Contains(st.Confirm, "measured")
	})
	if !st.Enabled || !strings.Contains(st.Confirm, "768 KiB (786432 bytes) changed") || !strings.Contains(st.Confirm, "WARNING") {
		t.Fatalf("undo confirmation: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActUndo, workflow.Actor{Name: "eve", Role: workflow.RoleViewer, Via: "ssh"}); err == nil {
		t.Fatal("a viewer could undo")
	}
	if err := m.Act(ctx, id, workflow.ActUndo, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateUndone)
	if got, _ := l.Hosts["hv01"].GetVM(ctx, "files"); got.State != hyperv.StateOff {
		t.Fatalf("on-premises VM is %s after undo", got.State)
	}
	if ps, _ := l.Compute.State(ctx, "files"); ps != azure.PowerRunning {
		t.Fatalf("Azure VM is %s after undo", ps)
	}
}

package workflow_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

func TestCompleteDuringCatchUpAbortsThePassAndStillEqualsAzure(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, MaxPasses: 20, StopBelow: "1K", Bandwidth: "1M", BlockSize: "64K"})
	l.StartWriters(200)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "a catch-up pass to write", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return v.State == workflow.StateCatchUp && v.VMs[0].Disks[0].Phase == "transfer" && v.VMs[0].Disks[0].BytesTransferred > 0
	})
	if st := labtest.Action(m, id, workflow.ActComplete); !st.Enabled {
		t.Fatalf("complete during catch-up: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, vm)
	passes := readPasses(t, l.Cfg.StateDir, id)[0]
	aborted := 0
	for _, p := range passes {
		if p.Aborted {
			aborted++
			if p.Kind != "catch-up" || p.Done {
				t.Fatalf("aborted pass %+v", p)
			}
		}
	}
	if aborted != 1 || passes[len(passes)-1].Kind != "final" {
		t.Fatalf("want exactly one aborted catch-up pass before the final one: %+v", passes)
	}
}

func TestFailedJobResumesFromWhereItStopped(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	l.Cfg.Engine.DowntimeRetry = config.Span(0) // stop at the first failure (the retries have their own tests)
	var fails atomic.Int32
	d := l.Deps()
	d.StepHook = func(_ context.Context, _, step string) error {
		if step == "start" && fails.Add(1) == 1 {
			return errors.New("host hv01 did not answer (drill)")
		}
		return nil
	}
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed)
	if !strings.Contains(v.Error, "did not answer (drill)") {
		t.Fatalf("error %q", v.Error)
	}
	if st := labtest.Action(m, id, workflow.ActResume); !st.Enabled || !strings.Contains(st.Confirm, "starting-onprem") {
		t.Fatalf("resume: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActResume, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if n := strings.Count(labtest.LogText(m, id), "(full) done"); n != 1 {
		t.Fatalf("the full download ran %d times; the resume must not redo it", n)
	}
	checkEqual(t, l, l.Image, vm)
}

func TestEstimateRecommendsPerDiskAndLeavesNothingBehind(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{
		{Name: "kept", Disks: []int64{4 << 20}},
		{Name: "gone", Disks: []int64{4 << 20}, NoImage: true},
	}})
	m := l.Open(l.Deps())
	ctx := context.Background()
	est, err := m.Estimate(ctx, workflow.Choices{VM: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if est.Recommended != workflow.SyncDelta || len(est.Disks) != 1 || est.Disks[0].Allocated == 0 || est.Disks[0].Size != 4<<20 {
		t.Fatalf("estimate of a VM with its disks: %+v", est)
	}
	if est.FullDowntime <= est.DeltaDowntime && est.DeltaBytes < est.FullBytes {
		t.Fatalf("downtimes: %+v", est)
	}
	if d := est.Disks[0]; !d.Bound || d.ChangedEstimate != d.Allocated {
		t.Fatalf("never failed back: the changed figure must be flagged as a bound: %+v", d)
	}
	// Once failback has a snapshot of the disk, the figure is measured.
	kept, err := l.Storage.OpenDisk(ctx, l.Container, l.Blob("kept", 0))
	if err != nil {
		t.Fatal(err)
	}
	sn, err := kept.CreateSnapshot(ctx, azure.SnapshotOptions{JobID: "250101-0000-01", Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	est, err = m.Estimate(ctx, workflow.Choices{VM: "kept"})
	_ = kept.DeleteSnapshot(ctx, sn.ID)
	if err != nil || est.Disks[0].Bound || !strings.Contains(est.Disks[0].Basis, "250101-0000-01") {
		t.Fatalf("estimate from failback's own snapshot is a measure, not a bound: %+v %v", est, err)
	}
	est, err = m.Estimate(ctx, workflow.Choices{VM: "gone"})
	// A missing disk is no reason for a full download: phase 1 writes it
	// while Azure runs, and delta's short downtime is the point.
	if err != nil || est.Recommended != workflow.SyncDelta || !strings.Contains(est.Why, "missing or empty") || !strings.Contains(est.Why, "phase 1 writes all of it") {
		t.Fatalf("estimate of a VM without its disks: %+v %v", est, err)
	}
	for _, name := range []string{"kept", "gone"} {
		d, _ := l.Storage.OpenDisk(ctx, l.Container, l.Blob(name, 0))
		if snaps, _ := d.ListSnapshots(ctx); len(snaps) != 0 {
			t.Fatalf("the estimate left snapshots: %+v", snaps)
		}
	}
	if len(m.Jobs()) != 0 {
		t.Fatal("the estimate made a job")
	}
}

package workflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// managedPlan is a plan of VMs on managed disks (db with a data disk) and
// one still on page blobs, all ARM VMs on the lab's endpoint.
func managedPlan(arm labtest.ARMOptions) labtest.Options {
	return labtest.Options{
		VMs: []labtest.VM{{Name: "db", Disks: []int64{8 << 20, 4 << 20}, Managed: true},
			{Name: "web", Disks: []int64{6 << 20}, Managed: true},
			{Name: "files", Disks: []int64{4 << 20}}},
		Plans:     map[string][][]string{"app": {{"db"}, {"web", "files"}}},
		MaxPasses: 2, StopBelow: "1K", Verify: true, Trim: 0.2, ARM: &arm,
	}
}

// syncLog is a goroutine-safe request log of the ARM endpoint.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// grepTree fails if any file under dir contains needle.
func grepTree(t *testing.T, dir, needle string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(needle)) {
			t.Errorf("%s holds %q", p, needle)
		}
		return nil
	})
}

// The VMs that run in Azure today: managed disks, found in the VMs'
// storage profiles, snapshotted and read through SAS grants while the
// VMs write and trim; after Complete each on-premises disk holds exactly
// its Azure disk's bytes; Commit deletes the VMs with their network
// interfaces and public IPs, keeps the managed disks and only the final
// snapshot of each. No SAS is ever written anywhere.
func TestManagedDiskDeltaWhileVMsWriteAndTrimEqualsAzureThenCommit(t *testing.T) {
	o := managedPlan(labtest.ARMOptions{})
	l := labtest.New(t, o)
	l.StartWriters(100)
	m := l.Open(l.Deps())
	ctx := context.Background()
	pre, err := m.Preflight(ctx, delta("app"))
	if err != nil || !pre.OK {
		t.Fatalf("pre-flight: %v %+v", err, pre)
	}
	var profile string
	for _, c := range pre.Checks {
		if c.VM == "db" && strings.HasPrefix(c.What, "disks of Azure VM") {
			profile = c.Detail
		}
	}
	if profile != "OS disk db-os, LUN 0 db-data0" {
		t.Fatalf("db's disks as the pre-flight found them: %q", profile)
	}
	id, err := m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	st := labtest.Action(m, id, workflow.ActCommit)
	if st.Enabled {
		t.Fatalf("commit before complete: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, o.VMs...)
	log := labtest.LogText(m, id)
	if !strings.Contains(log, "older snapshot(s) of this job deleted") {
		t.Errorf("catch-up passes did not delete the snapshots they replaced:\n%s", log)
	}

	st = labtest.Action(m, id, workflow.ActCommit)
	for _, want := range []string{"db-nic", "web-ip", "managed disks stay", "Page-blob disks stay"} {
		if !strings.Contains(st.Confirm, want) {
			t.Fatalf("commit confirmation does not say %q: %s", want, st.Confirm)
		}
	}
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	d, compute := l.ARMDeps()
	for _, vm := range o.VMs {
		if _, err := compute.State(ctx, azure.VMRef{Name: vm.Name}); !errors.Is(err, azure.ErrVMNotFound) {
			t.Fatalf("Azure VM %s not deleted: %v", vm.Name, err)
		}
		if !vm.Managed {
			continue
		}
		for i := range vm.Disks {
			disk, err := d.OpenVMDisk(ctx, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: labtest.ResourceGroup, Name: l.DiskName(vm.Name, i)})
			if err != nil {
				t.Fatalf("managed disk %s was deleted by commit: %v", l.DiskName(vm.Name, i), err)
			}
			snaps, err := disk.ListSnapshots(ctx)
			if err != nil || len(snaps) != 1 || snaps[0].Purpose != "final" {
				t.Fatalf("%s keeps snapshots %+v (%v), want only the final one", disk.Name(), snaps, err)
			}
		}
	}
	if n := len(v.Azure); n != 4 {
		t.Errorf("the committed job says it holds %d snapshots, want the 4 disks' baselines: %+v", n, v.Azure)
	}
	nics := l.ARMNetwork(t)
	if len(nics) != 0 {
		t.Errorf("network resources left after commit: %v", nics)
	}
	grepTree(t, l.Cfg.StateDir, "sig=")
	if strings.Contains(labtest.LogText(m, id), "sig=") {
		t.Error("the job's log shows a SAS")
	}
}

// A VM whose disks differ from config.toml is refused before anything is
// written, and the refusal says what differs.
func TestManagedDiskProfileMismatchIsRefused(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{4 << 20, 2 << 20}, Managed: true}},
		ARM: &labtest.ARMOptions{}})
	one := 1
	l.Cfg.VMs[0].Disks[1].LUN = &one // config says LUN 1, the VM has LUN 0
	m := l.Open(l.Deps())
	c := workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}
	rep, err := m.Preflight(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var row *workflow.CheckRow
	for i := range rep.Checks {
		if strings.HasPrefix(rep.Checks[i].What, "disks of Azure VM") {
			row = &rep.Checks[i]
		}
	}
	if rep.OK || row == nil || row.OK || !strings.Contains(row.Detail, "has no lun 1") ||
		!strings.Contains(row.Detail, "its lun 0 db-data0") || !strings.Contains(row.Detail, "lun = 0") {
		t.Fatalf("pre-flight of a mismatched VM: %+v", row)
	}
	if _, err := m.Start(context.Background(), c, labtest.Operator); !errors.Is(err, workflow.ErrPreflight) {
		t.Fatalf("start of a mismatched VM: %v", err)
	}
}

// When a diff cannot be had (the older snapshot was deleted behind the
// job's back), the pass compares the whole disk by checksums and says
// why; the failback does not fail for it.
func TestManagedDiskDiffFailureFallsBackToChecksums(t *testing.T) {
	o := labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{6 << 20}, Managed: true}},
		MaxPasses: 1, StopBelow: "1K", Verify: true, ARM: &labtest.ARMOptions{}}
	l := labtest.New(t, o)
	l.StartWriters(50)
	d := l.Deps()
	d.StepHook = func(ctx context.Context, _, step string) error {
		if step != "catch-up 1" {
			return nil
		}
		disks, _ := l.ARMDeps()
		disk, err := disks.OpenVMDisk(ctx, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: labtest.ResourceGroup, Name: "db-os"})
		if err != nil {
			return err
		}
		snaps, err := disk.ListSnapshots(ctx)
		for _, s := range snaps {
			if err == nil {
				err = disk.DeleteSnapshot(ctx, s.ID)
			}
		}
		return err
	}
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	log := labtest.LogText(m, id)
	if !strings.Contains(log, "cannot be listed") || !strings.Contains(log, "comparing the whole disk by checksums instead") {
		t.Fatalf("no fallback to checksums in the log:\n%s", log)
	}
	checkEqual(t, l, l.Image, o.VMs...)
}

// Azure allows only so many snapshots of a disk in a window: the passes
// wait for the window and say so, and the job runs through.
func TestManagedDiskSnapshotsArePacedToAzuresLimit(t *testing.T) {
	o := labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{4 << 20}, Managed: true}},
		MaxPasses: 3, StopBelow: "1K", ARM: &labtest.ARMOptions{SnapshotsPerWindow: 2, SnapshotWindow: 3 * time.Second}}
	l := labtest.New(t, o)
	l.StartWriters(50)
	m := l.Open(l.Deps())
	id, err := m.Start(context.Background(), workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if log := labtest.LogText(m, id); !strings.Contains(log, "Azure allows 2 snapshots of a disk per 3s") {
		t.Fatalf("no pacing said in the log:\n%s", log)
	}
}

// A read grant that ends while a pass still reads is renewed, and the
// pass runs through.
func TestManagedDiskGrantIsRenewedDuringALongPass(t *testing.T) {
	var reqs syncLog
	o := labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{4 << 20}, Managed: true}},
		Verify: true, Bandwidth: "1M", ARM: &labtest.ARMOptions{SASDuration: 2 * time.Second, Log: &reqs}}
	l := labtest.New(t, o)
	m := l.Open(l.Deps())
	id, err := m.Start(context.Background(), workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	// Phase 1 reads 4 MiB twice (sync, verify) at 1 MiB/s under grants of 2 s.
	if grants := reqs.count("/beginGetAccess"); grants < 3 {
		t.Fatalf("%d grants for a phase 1 of about 8 s with 2 s grants: not renewed", grants)
	}
}

// A snapshot a crash left between its creation and the job's record
// (tagged with the job, in no pass) is deleted by the job's next pass.
func TestManagedDiskOrphanSnapshotIsCleanedByTheNextPass(t *testing.T) {
	o := labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{4 << 20}, Managed: true}},
		MaxPasses: 1, StopBelow: "1K", ARM: &labtest.ARMOptions{}}
	l := labtest.New(t, o)
	var orphan string
	d := l.Deps()
	d.StepHook = func(ctx context.Context, job, step string) error {
		if step != "catch-up 1" {
			return nil
		}
		disks, _ := l.ARMDeps()
		disk, err := disks.OpenVMDisk(ctx, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: labtest.ResourceGroup, Name: "db-os"})
		if err != nil {
			return err
		}
		s, err := disk.CreateSnapshot(ctx, azure.SnapshotOptions{JobID: job, Purpose: "catch-up"})
		orphan = s.ID
		return err
	}
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	disks, _ := l.ARMDeps()
	disk, err := disks.OpenVMDisk(ctx, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: labtest.ResourceGroup, Name: "db-os"})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := disk.ListSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if orphan == "" || len(snaps) != 1 || snaps[0].ID == orphan {
		t.Fatalf("snapshots after the catch-up pass: %+v (orphan %q)", snaps, orphan)
	}
	if len(v.Azure) != 1 || v.Azure[0].Snapshot != snaps[0].ID {
		t.Fatalf("the job says it holds %+v, Azure has %+v", v.Azure, snaps)
	}
}

// diskBytes reads a whole VMDisk through a snapshot taken now.
func diskBytes(t *testing.T, d azure.VMDisk) []byte {
	t.Helper()
	ctx := context.Background()
	s, err := d.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.DeleteSnapshot(ctx, s.ID) }()
	return snapshotBytes(t, d, s.ID)
}

func snapshotBytes(t *testing.T, d azure.VMDisk, id string) []byte {
	t.Helper()
	ctx := context.Background()
	src, err := d.OpenSnapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close(ctx) }()
	p := make([]byte, src.Size())
	if err := src.ReadAt(ctx, p, 0); err != nil {
		t.Fatal(err)
	}
	return p
}

// After a managed-disk failback and commit, reverse replication seeds a
// replica per disk inside Azure from the kept snapshot, then sends only
// what changed on premises; every cycle that sent something leaves a
// recovery point of the whole VM whose snapshots hold that moment's
// bytes.
func TestManagedDiskReverseReplicationKeepsAReplicaWithRecoveryPoints(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{4 << 20, 2 << 20}, Managed: true}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, ARM: &labtest.ARMOptions{}})
	d := l.Deps()
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)

	img0, img1 := l.Image("db", 0), l.Image("db", 1)
	labtest.WriteImage(t, img0, 1<<20, []byte(strings.Repeat("A", 70000)))
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	first := [][]byte{labtest.ImageBytes(t, img0), labtest.ImageBytes(t, img1)}
	labtest.WriteImage(t, img1, 512<<10, []byte(strings.Repeat("B", 9000)))
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)

	log := labtest.LogText(m, id)
	if strings.Count(log, "seeded inside Azure") != 2 || strings.Count(log, "recovery point of its 2 disk(s)") != 2 {
		t.Fatalf("seeding and recovery points not in the log:\n%s", log)
	}
	var replicas []azure.VMDisk
	for i := range vm.Disks {
		rep, err := d.Replicas.Open(ctx, d.Replicas.Ref(fmt.Sprintf("db/%s/%s.vhd", id, l.DiskName("db", i))))
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, rep)
		if got := diskBytes(t, rep); labtest.FirstDiff(labtest.ImageBytes(t, l.Image("db", i)), got) >= 0 {
			t.Fatalf("replica of disk %d differs from the on-premises image", i)
		}
	}
	// The first point holds the first cycle's bytes on both disks.
	snaps, err := replicas[1].ListSnapshots(ctx)
	if err != nil || len(snaps) != 2 {
		t.Fatalf("replica of disk 1 has %d recovery point snapshots (%v)", len(snaps), err)
	}
	if labtest.FirstDiff(first[1], snapshotBytes(t, replicas[1], snaps[0].ID)) >= 0 {
		t.Fatal("the first recovery point of disk 1 does not hold the first cycle's bytes")
	}

	// The first point becomes managed disks holding exactly its bytes; a
	// dry run creates nothing.
	v, _ := m.Job(id)
	if len(v.VMs[0].RecoveryPoints) != 2 {
		t.Fatalf("the job shows %d recovery points: %+v", len(v.VMs[0].RecoveryPoints), v.VMs[0].RecoveryPoints)
	}
	firstAt := v.VMs[0].RecoveryPoints[0].At
	dry, err := workflow.MakeReplicaDisks(ctx, l.Cfg, d, id, workflow.ReplicaDisksOptions{Point: firstAt, DryRun: true})
	if err != nil || len(dry.Disks) != 2 || dry.Disks[0].ID != "" {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	rep, err := workflow.MakeReplicaDisks(ctx, l.Cfg, d, id, workflow.ReplicaDisksOptions{Point: firstAt})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Disks) != 2 || !strings.Contains(rep.Cost, "2 managed disk(s)") {
		t.Fatalf("report %+v", rep)
	}
	for i, rd := range rep.Disks {
		nd, err := d.Disks.OpenVMDisk(ctx, azure.DiskRef{Kind: azure.KindManaged, ID: rd.ID})
		if err != nil {
			t.Fatal(err)
		}
		if labtest.FirstDiff(first[i], diskBytes(t, nd)) >= 0 {
			t.Fatalf("managed disk %s made from the first point does not hold its bytes", rd.Name)
		}
	}
	grepTree(t, l.Cfg.StateDir, "sig=")
}

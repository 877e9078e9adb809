package workflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// Reverse replication of a managed-disk VM that keeps running on
// premises: each cycle reads the disks through a recovery checkpoint, so
// what the guest writes while a cycle runs is not in that cycle's replica
// nor its recovery point (it goes to the checkpoint's child); from the
// second cycle on, Hyper-V's change tracking says what changed, so the
// cycle reads and sends only those ranges (within 5% of what the guest
// wrote), and the next cycle sends what was written during the previous.
func TestReverseCycleReadsAFrozenVMAndOnlyWhatChangeTrackingReports(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{8 << 20, 4 << 20}, Managed: true}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, ARM: &labtest.ARMOptions{}})
	host := l.Hosts["hv01"]
	ctx := context.Background()
	const block = 256 << 10 // the lab's block size
	during := bytes.Repeat([]byte("written while the cycle reads "), block/30)
	const duringAt = 3<<20 + 2
	var writeDuring atomic.Bool
	d := l.Deps()
	d.StepHook = func(ctx context.Context, _, step string) error {
		if step == "reverse-frozen" && writeDuring.Load() {
			// The guest writes after the freeze, into a block the cycle
			// sends: the write goes to the child, not into what is read.
			return host.GuestWrite(ctx, "db", 0, duringAt, during)
		}
		return nil
	}
	m := l.Open(d)
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	cycle := func(n int) workflow.JobView {
		t.Helper()
		if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
			t.Fatal(err)
		}
		labtest.WaitFor(t, fmt.Sprintf("cycle %d", n), jobTimeout, func() bool {
			v, _ := m.Job(id)
			return v.ReverseCycles == n && v.State == workflow.StateCommitted
		})
		v, _ := m.Job(id)
		return v
	}
	replica := func(i int) azure.VMDisk {
		t.Helper()
		rep, err := d.Replicas.Open(ctx, d.Replicas.Ref(fmt.Sprintf("db/%s/%s.vhd", id, l.DiskName("db", i))))
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	img := []string{l.Image("db", 0), l.Image("db", 1)}

	// Cycle 1: change tracking starts; the disks are checksummed.
	if err := host.GuestWrite(ctx, "db", 1, 1<<20, bytes.Repeat([]byte("before tracking "), block/16)); err != nil {
		t.Fatal(err)
	}
	cycle(1)
	rec := record(t, l, id)
	if len(rec.VMs[0].RefPoint.RCT) != 2 {
		t.Fatalf("reference point after the first cycle: %+v", rec.VMs[0].RefPoint)
	}
	for i, dr := range rec.VMs[0].Disks {
		if !strings.HasPrefix(dr.Changes, "by checksumming the disk: change tracking starts") {
			t.Fatalf("disk %d after the first cycle: changes %q", i, dr.Changes)
		}
	}

	// Cycle 2: three whole blocks written before the freeze, one more
	// during it.
	var written int64
	for _, w := range []struct {
		disk int
		off  int64
	}{{0, 1 << 20}, {0, 3 << 20}, {1, 2 << 20}} {
		p := bytes.Repeat([]byte{byte('a' + w.disk), byte(w.off >> 20)}, block/2)
		if err := host.GuestWrite(ctx, "db", w.disk, w.off, p); err != nil {
			t.Fatal(err)
		}
		written += int64(len(p))
	}
	frozen := [][]byte{labtest.ImageBytes(t, img[0]), labtest.ImageBytes(t, img[1])}
	writeDuring.Store(true)
	v := cycle(2)
	writeDuring.Store(false)
	rec = record(t, l, id)
	var sent, read int64
	for i, dr := range rec.VMs[0].Disks {
		if dr.Changes != "from Hyper-V change tracking" {
			t.Fatalf("disk %d in the second cycle found its changes %q", i, dr.Changes)
		}
		sent += dr.SentBytes
		read += dr.ReadBytes
	}
	if sent < written || float64(sent) > 1.05*float64(written) || read != sent {
		t.Fatalf("the guest wrote %d bytes; the cycle read %d and sent %d (want within 5%%, reading only those)", written, read, sent)
	}
	for i := range img {
		if labtest.FirstDiff(frozen[i], diskBytes(t, replica(i))) >= 0 {
			t.Fatalf("replica of disk %d is not the disk as of the checkpoint", i)
		}
	}
	if rv := v.VMs[0].Disks[0].Reverse; rv == nil || rv.Changes != "from Hyper-V change tracking" || rv.Read != rec.VMs[0].Disks[0].ReadBytes ||
		rv.Consistency != "application-consistent" || rv.RPOTarget != time.Hour {
		t.Fatalf("the view of disk 0's reverse replication: %+v", rv)
	}
	pts := v.VMs[0].RecoveryPoints
	if len(pts) != 2 || pts[1].Consistency != "application-consistent" {
		t.Fatalf("recovery points: %+v", pts)
	}
	snaps, err := replica(0).ListSnapshots(ctx)
	if err != nil || len(snaps) != 2 {
		t.Fatalf("replica of disk 0 has %d snapshots (%v)", len(snaps), err)
	}
	if labtest.FirstDiff(frozen[0], snapshotBytes(t, replica(0), snaps[1].ID)) >= 0 {
		t.Fatal("the second recovery point does not hold the disk as of its checkpoint")
	}
	// The checkpoint was merged: the disk now holds the write made
	// during the cycle, and no child file is left.
	now := labtest.ImageBytes(t, img[0])
	if !bytes.Equal(now[duringAt:duringAt+len(during)], during) {
		t.Fatal("the write made during the cycle was lost when its checkpoint was merged")
	}
	vmv, _ := host.GetVM(ctx, "db")
	if len(vmv.Checkpoints) != 0 {
		t.Fatalf("checkpoints left after the cycle: %+v", vmv.Checkpoints)
	}

	// Cycle 3 sends exactly the write made during cycle 2.
	cycle(3)
	rec = record(t, l, id)
	if got := rec.VMs[0].Disks[0].SentBytes + rec.VMs[0].Disks[1].SentBytes; got != block {
		t.Fatalf("the third cycle sent %d bytes, want the one block written during the second (%d)", got, block)
	}
	for i := range img {
		if labtest.FirstDiff(labtest.ImageBytes(t, img[i]), diskBytes(t, replica(i))) >= 0 {
			t.Fatalf("replica of disk %d differs from the disk after the third cycle", i)
		}
	}

	// A disk written outside Hyper-V breaks the chain: that cycle says so
	// and checksums, and still sends the change.
	labtest.WriteImage(t, img[1], 3<<20, bytes.Repeat([]byte("Z"), 4096))
	cycle(4)
	rec = record(t, l, id)
	if dr := rec.VMs[0].Disks[1]; !strings.Contains(dr.Changes, "chain is broken") || dr.SentBytes != block {
		t.Fatalf("after a write outside Hyper-V: changes %q, sent %d", dr.Changes, dr.SentBytes)
	}
	if labtest.FirstDiff(labtest.ImageBytes(t, img[1]), diskBytes(t, replica(1))) >= 0 {
		t.Fatal("replica of disk 1 misses the write made outside Hyper-V")
	}
}

// A guest that cannot give an application-consistent checkpoint: the
// cycle is refused with what to do, unless crash-consistent points are
// allowed, and then the point says it is crash-consistent.
func TestReverseCycleNeedsAppConsistencyUnlessCrashConsistentIsAllowed(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	ctx := context.Background()
	m := l.Open(l.Deps())
	id, err := m.Start(ctx, workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	host := l.Hosts["hv01"]
	if err := host.SetBackupIntegration(ctx, "files", false); err != nil {
		t.Fatal(err)
	}
	if err := host.GuestWrite(ctx, "files", 0, 0, bytes.Repeat([]byte("q"), 1000)); err != nil {
		t.Fatal(err)
	}
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	// Right after the action the job may still say committed: wait for
	// the cycle's refusal and its end.
	labtest.WaitFor(t, "the refused cycle", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return strings.Contains(labtest.LogText(m, id), "no application-consistent checkpoint of files") &&
			slices.Contains([]workflow.JobState{workflow.StateInterrupted, workflow.StateFailed, workflow.StateCommitted}, v.State)
	})
	log := labtest.LogText(m, id)
	if !strings.Contains(log, "no application-consistent checkpoint of files") || !strings.Contains(log, "crash_consistent = true") {
		t.Fatalf("refusal does not say what to do:\n%s", log)
	}
	if v, _ := m.Job(id); v.ReverseCycles != 0 {
		t.Fatalf("a refused cycle counted: %d", v.ReverseCycles)
	}
	_ = m.Close()

	l.Cfg.Reverse.CrashConsistent = true
	m = l.Open(l.Deps())
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "a crash-consistent cycle", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return v.ReverseCycles == 1 && v.State == workflow.StateCommitted
	})
	v, _ := m.Job(id)
	if pts := v.VMs[0].RecoveryPoints; len(pts) != 1 || pts[0].Consistency != "crash-consistent" {
		t.Fatalf("recovery points: %+v", pts)
	}
}

// cycleRecord is the part of job.json the cycle tests read.
type cycleRecord struct {
	VMs []struct {
		RefPoint struct {
			ID  string   `json:"id"`
			RCT []string `json:"rct"`
		} `json:"reference_point"`
		Disks []struct {
			Changes   string `json:"changes"`
			SentBytes int64  `json:"sent_bytes"`
			ReadBytes int64  `json:"read_bytes"`
		} `json:"disks"`
	} `json:"vms"`
}

func record(t *testing.T, l *labtest.Lab, id string) cycleRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.Cfg.StateDir, "jobs", id, "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r cycleRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

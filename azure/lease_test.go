package azure

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestLeasedDiskSnapshotsButRefusesForeignWritesAndDeletesWhenBroken(t *testing.T) {
	ctx := context.Background()
	s, _, c := newTestStorage(t)
	d, err := s.CreateDisk(ctx, c, "os.vhd", 2*mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A target opened before the VM took its lease.
	early, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The VM starts: it holds an infinite lease on its disk.
	vmLease, err := s.AcquireLease(ctx, c, "os.vhd", InfiniteLease, "")
	if err != nil {
		t.Fatal(err)
	}
	withLease := d.WithLease(vmLease)
	vmTarget, err := withLease.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := pattern(0, 4096, 9)
	if err := vmTarget.WriteAt(ctx, data, 0); err != nil {
		t.Fatalf("the lease holder cannot write: %v", err)
	}

	// Snapshots need no lease.
	snap, err := d.CreateSnapshot(ctx, SnapshotOptions{JobID: "j", Purpose: "phase1"})
	if err != nil {
		t.Fatalf("snapshot of a leased disk: %v", err)
	}
	src, err := d.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4096)
	if err := src.ReadAt(ctx, got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("snapshot read: %v", err)
	}

	// Anyone else's writes are refused, clearly.
	if _, err := d.OpenTarget(ctx); !errors.Is(err, ErrLeased) {
		t.Errorf("OpenTarget on a leased disk = %v, want ErrLeased", err)
	}
	if err := early.WriteAt(ctx, make([]byte, 512), 0); !errors.Is(err, ErrLeased) {
		t.Errorf("write without the lease = %v, want ErrLeased", err)
	} else {
		t.Log(err)
	}
	if err := early.WriteZeroes(ctx, 0, 512); !errors.Is(err, ErrLeased) {
		t.Errorf("clear without the lease = %v, want ErrLeased", err)
	}

	// The VM is deleted but its lease lingers: a plain delete fails
	// clearly, a delete that breaks the lease succeeds, snapshots and all.
	if err := s.DeleteDisk(ctx, c, "os.vhd", false); !errors.Is(err, ErrLeased) {
		t.Fatalf("delete of a leased disk = %v, want ErrLeased", err)
	} else {
		t.Log(err)
	}
	if err := s.DeleteDisk(ctx, c, "os.vhd", true); err != nil {
		t.Fatalf("delete with lease break: %v", err)
	}
	if _, err := s.OpenDisk(ctx, c, "os.vhd"); !errors.Is(err, ErrNotFound) {
		t.Errorf("disk still there after delete: %v", err)
	}
	if err := s.DeleteDisk(ctx, c, "os.vhd", true); err != nil {
		t.Errorf("second delete: %v (deleting a deleted disk must be fine)", err)
	}
}

func TestSnapshotsListedAreOnlyOursAndDeleteIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s, _, c := newTestStorage(t)
	d, err := s.CreateDisk(ctx, c, "a.vhd", mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateDisk(ctx, c, "a.vhd.bak", mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.CreateSnapshot(ctx, SnapshotOptions{JobID: "x"}); err != nil {
		t.Fatal(err)
	}
	// A snapshot someone else made (a backup tool): never listed.
	if _, err := d.pb.CreateSnapshot(ctx, nil); err != nil {
		t.Fatal(err)
	}
	s1, err := d.CreateSnapshot(ctx, SnapshotOptions{JobID: "job-7", Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	// Azurite keeps a snapshot's time to the millisecond: two snapshots in
	// one millisecond are one to its delete (both go). Azure's differ.
	time.Sleep(2 * time.Millisecond)
	s2, err := d.CreateSnapshot(ctx, SnapshotOptions{JobID: "job-7", Purpose: "phase2"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := d.ListSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != s1.ID || list[1].ID != s2.ID {
		t.Fatalf("ListSnapshots = %+v, want ours only: %s, %s", list, s1.ID, s2.ID)
	}
	if list[0].JobID != "job-7" || list[0].Purpose != "phase1" || list[1].Purpose != "phase2" || list[0].Created.IsZero() {
		t.Errorf("tags not read back (keys compared without case): %+v", list)
	}
	if err := d.DeleteSnapshot(ctx, s1.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSnapshot(ctx, s1.ID); err != nil {
		t.Errorf("deleting a deleted snapshot: %v", err)
	}
	if err := d.DeleteSnapshot(ctx, ""); err == nil {
		t.Error("an empty snapshot id was accepted (it would name the disk)")
	}
	if _, err := d.OpenSnapshot(ctx, s1.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("open of a deleted snapshot = %v, want ErrNotFound", err)
	}
	list, err = d.ListSnapshots(ctx)
	if err != nil || len(list) != 1 || list[0].ID != s2.ID {
		t.Fatalf("after delete: %+v %v", list, err)
	}
}

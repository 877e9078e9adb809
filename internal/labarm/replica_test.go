package labarm

import (
	"bytes"
	"context"
	"testing"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/testenv"
)

// A managed disk's snapshot seeds a replica page blob inside Azure
// (Start Copy from URL with the snapshot's grant): the replica holds the
// snapshot's bytes, a later write to the disk does not reach it, and the
// grant is given back.
func TestReplicaIsSeededFromAManagedDiskSnapshotInsideAzure(t *testing.T) {
	e := newEnv(t, nil)
	m := e.managed(nil)
	ctx := ctx(t)
	if _, err := e.srv.CreateDisk(ctx, e.rg, "rep", 4<<20, "Premium_LRS"); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("replica!"), (1<<20)/8)
	e.write(e.rg, "rep", data, 1<<20)
	disk, err := m.OpenVMDisk(ctx, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "rep"})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := disk.CreateSnapshot(ctx, azure.SnapshotOptions{JobID: "j", Purpose: "final"})
	if err != nil {
		t.Fatal(err)
	}
	e.write(e.rg, "rep", bytes.Repeat([]byte{9}, 1<<20), 0) // after the snapshot
	// Through the front, as the lab does: Azurite copies only from a URL of
	// the host it was asked on, and grants point at the front.
	st, err := azure.NewStorage(azure.StorageOptions{ConnectionString: azure.NewSecret(testenv.AzuriteFront(t))})
	if err != nil {
		t.Fatal(err)
	}
	reps := &azure.Replicas{Storage: st, Container: "rep-" + rnd()}
	t.Cleanup(func() { _ = st.DeleteContainer(context.Background(), reps.Container) })
	rep, err := reps.Seed(ctx, disk, snap.ID, "vm/rep.vhd")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Size() != 4<<20 {
		t.Fatalf("replica size %d", rep.Size())
	}
	s, err := rep.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "check"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := rep.OpenSnapshot(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4<<20)
	if err := src.ReadAt(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4<<20)
	copy(want[1<<20:], data)
	if !bytes.Equal(got, want) {
		t.Fatal("the replica does not hold the snapshot's bytes")
	}
	if g := m.Grants(); len(g) != 0 {
		t.Fatalf("grants still held after seeding: %v", g)
	}
	// Seeding again opens the replica as it is.
	if _, err := reps.Seed(ctx, disk, snap.ID, "vm/rep.vhd"); err != nil {
		t.Fatal(err)
	}
}

package azure

import (
	"context"
	"testing"

	"github.com/failback/failback/engine"
)

// LiveAllocated lists what the blob holds now, without a snapshot, never
// the footer: the pre-flight bounds the images' growth with it.
func TestLiveAllocatedListsTheBlobWithoutASnapshot(t *testing.T) {
	s, _, c := newTestStorage(t)
	ctx := context.Background()
	const size = 64 * mib
	d, err := s.CreateDisk(ctx, c, "live.vhd", size, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb := rawPageBlob(s, c, "live.vhd")
	rawPut(t, pb, 0, pattern(0, 4096, 1))
	rawPut(t, pb, 40*mib, pattern(40*mib, mib, 2))
	ex, err := d.LiveAllocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Extent{{Off: 0, Len: 4096}, {Off: 40 * mib, Len: mib}}
	if len(ex) != len(want) || ex[0] != want[0] || ex[1] != want[1] {
		t.Fatalf("LiveAllocated = %v, want %v", ex, want)
	}
	snaps, err := d.ListSnapshots(ctx)
	if err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots after listing: %v, %v; want none", snaps, err)
	}
}

package azure

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/engine/enginetest"
	"github.com/failback/failback/internal/faultproxy"
)

// The failback path end to end on the Azure side: phase 1 copies a
// snapshot while the disk keeps changing, phase 2 copies only the ranges
// that changed between the two snapshots, all through a faulty link, into
// an engine target, with the engine's own verification.
func TestEngineSyncPhase1AndPhase2ThroughFaults(t *testing.T) {
	ctx := context.Background()
	direct, _, c := newTestStorage(t)
	const size = 8 * mib
	d, err := direct.CreateDisk(ctx, c, "vm.vhd", size, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb := rawPageBlob(direct, c, "vm.vhd")
	for i, off := range []int64{0, 2 * mib, 5*mib + 4096} {
		rawPut(t, pb, off, pattern(off, 300<<10, byte(i)))
	}
	s1, err := d.CreateSnapshot(ctx, SnapshotOptions{JobID: "j1", Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	// The VM keeps running: it writes, and it trims (clears) a range.
	rawPut(t, pb, 7*mib, pattern(7*mib, 64<<10, 9))
	if _, err := pb.ClearPages(ctx, blobRange(2*mib, 128<<10), nil); err != nil {
		t.Fatal(err)
	}
	s2, err := d.CreateSnapshot(ctx, SnapshotOptions{JobID: "j1", Purpose: "phase2"})
	if err != nil {
		t.Fatal(err)
	}

	s, proxy := viaProxy(t, faultproxy.Options{
		Seed: 3, Reset: 0.1, Error503: 0.1, CutShort: 0.15,
		Match: func(r *http.Request) bool { return r.Method == http.MethodGet },
	})
	pd, err := s.OpenDisk(ctx, c, "vm.vhd")
	if err != nil {
		t.Fatal(err)
	}
	src1, err := pd.OpenSnapshot(ctx, s1.ID)
	if err != nil {
		t.Fatal(err)
	}
	onPrem := enginetest.NewMemDisk(size, 0)
	if _, err := engine.Sync(ctx, src1, onPrem, engine.Options{Mode: engine.Full, NoJournal: true, Verify: true, Threads: 4}); err != nil {
		t.Fatalf("phase 1: %v", err)
	}

	changed, err := pd.ChangedRanges(ctx, s1.ID, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	src2, err := pd.OpenSnapshot(ctx, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := engine.Sync(ctx, src2, onPrem, engine.Options{Mode: engine.Ranges, Ranges: changed, NoJournal: true, Verify: true, Threads: 4})
	if err != nil {
		t.Fatalf("phase 2: %v", err)
	}
	// Whole-disk check against the second snapshot, read without faults.
	want := make([]byte, size)
	ds2, err := d.OpenSnapshot(ctx, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds2.ReadAt(ctx, want, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onPrem.Bytes(), want) {
		t.Fatal("on-premises disk differs from the last snapshot")
	}
	t.Logf("phase 2: %d changed extents, stats %+v; proxy faults %d of %d requests", len(changed), st.Counters, proxy.Faults(), proxy.Requests())
	if proxy.Faults() == 0 {
		t.Fatal("no faults injected")
	}
}

// Reverse replication: the engine writes an on-premises disk back into a
// page blob through PageBlobTarget, zeros as cleared pages, and verifies.
func TestEngineSyncIntoPageBlobTarget(t *testing.T) {
	ctx := context.Background()
	s, ct, c := newTestStorage(t)
	const size = 8 * mib
	d, err := s.CreateDisk(ctx, c, "back.vhd", size, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The Azure copy has stale data where on premises is now empty.
	if err := tg.WriteAt(ctx, pattern(6*mib, mib, 4), 6*mib); err != nil {
		t.Fatal(err)
	}
	onPrem := enginetest.NewMemDisk(size, 0)
	if err := onPrem.WriteAt(ctx, pattern(0, 3*mib, 5), 0); err != nil {
		t.Fatal(err)
	}
	ct.reset()
	if _, err := engine.Sync(ctx, onPrem, tg, engine.Options{Mode: engine.Full, NoJournal: true, Verify: true, BlockSize: 4 * mib}); err != nil {
		t.Fatal(err)
	}
	if ct.maxUpdate.Load() > 4*mib {
		t.Errorf("a Put Page of %d bytes (Azure refuses more than 4 MiB)", ct.maxUpdate.Load())
	}
	alloc, err := tg.Allocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(alloc) != 1 || alloc[0] != (engine.Extent{Off: 0, Len: 3 * mib}) {
		t.Errorf("allocated after sync %v, want only [0, 3 MiB): zeros must be cleared pages", alloc)
	}
	d2, err := s.OpenDisk(ctx, c, "back.vhd")
	if err != nil {
		t.Fatalf("footer after reverse replication: %v", err)
	}
	if d2.VirtualSize() != size {
		t.Fatal("size changed")
	}
}

func blobRange(off, n int64) blob.HTTPRange { return blob.HTTPRange{Offset: off, Count: n} }

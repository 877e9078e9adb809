package azure

import (
	"bytes"
	"context"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/engine/enginetest"
)

// TestAllocatedStaysBoundedOnAFragmentedBlob: a blob written every other
// 512-byte page over a region lists one range per written page (Azure
// and Azurite alike); Allocated of the snapshot and of the target report
// that region as one range (its gaps read as zeros), a gap longer than
// the granule stays a gap, and reads and a full sync still give the
// exact bytes.
func TestAllocatedStaysBoundedOnAFragmentedBlob(t *testing.T) {
	ctx := context.Background()
	s, _, c := newTestStorage(t)
	const size = 8 * mib
	d, err := s.CreateDisk(ctx, c, "frag.vhd", size, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb := rawPageBlob(s, c, "frag.vhd")
	want := make([]byte, size)
	const region, pages = mib, 1024 // [1 MiB, 2 MiB): every other page
	var wg sync.WaitGroup
	work := make(chan int64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := range work {
				rawPut(t, pb, off, want[off:off+pageSize])
			}
		}()
	}
	for i := int64(0); i < pages; i += 2 {
		off := region + i*pageSize
		copy(want[off:], pattern(off, pageSize, 7))
		work <- off
	}
	copy(want[6*mib:], pattern(6*mib, pageSize, 8)) // after a 4 MiB gap
	work <- 6 * mib
	close(work)
	wg.Wait()

	exact, err := listPageRanges(ctx, pb, "", "", size, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(exact) != pages/2+1 {
		t.Fatalf("the exact listing has %d ranges, want %d: the blob is not fragmented as the test needs", len(exact), pages/2+1)
	}

	wantAlloc := []engine.Extent{{Off: region, Len: (pages - 1) * pageSize}, {Off: 6 * mib, Len: pageSize}}
	snap, err := d.CreateSnapshot(ctx, SnapshotOptions{JobID: "job-frag", Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := d.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]interface {
		Allocated(context.Context) ([]engine.Extent, error)
	}{"snapshot": src, "target": tg} {
		alloc, err := a.Allocated(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(alloc, wantAlloc) {
			t.Errorf("%s Allocated = %d ranges %v, want %v", name, len(alloc), alloc[:min(len(alloc), 4)], wantAlloc)
		}
	}

	got := make([]byte, size)
	if err := src.ReadAt(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("snapshot reads differ from what was written")
	}
	if err := tg.ReadAt(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("target reads differ from what was written")
	}
	dst := enginetest.NewMemDisk(size, 0)
	if _, err := engine.Sync(ctx, src, dst, engine.Options{Mode: engine.Full, NoJournal: true, Verify: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.Bytes(), want) {
		t.Fatal("a full sync from the fragmented snapshot differs")
	}
}

// TestAllocatedListIsBoundedByDiskSize: however many ranges the service
// lists, in whatever order and however the listing is paged, the merged
// list has at most size/granule entries, covers every listed byte and is
// the same as merging everything at once; while listing, what is held
// stays near the merged list, not the listing's length.
func TestAllocatedListIsBoundedByDiskSize(t *testing.T) {
	const size = 4 << 40 // 4 TiB: granule 4 MiB
	g := allocGranule(size)
	if g != 4*mib || allocGranule(8*mib) != mib {
		t.Fatalf("granule %d", g)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var all []engine.Extent
	l := rangeList{limit: size, gap: g}
	peak := 0
	for range 40 {
		var pl pageblob.PageList
		for range 5000 {
			// Mostly in the first GiB (fragmented), some anywhere.
			span := int64(1 << 30)
			if r.IntN(100) == 0 {
				span = size
			}
			off := r.Int64N(span/pageSize) * pageSize
			e := engine.Extent{Off: off, Len: pageSize * (1 + r.Int64N(3))}
			all = append(all, e)
			start, end := e.Off, e.End()-1
			pl.PageRange = append(pl.PageRange, &pageblob.PageRange{Start: &start, End: &end})
		}
		l.add(pl)
		peak = max(peak, len(l.ex))
	}
	got := l.extents()
	if peak > 2*len(got)+4096+5000 {
		t.Fatalf("the list held %d ranges while listing (%d merged): it grows with the listing", peak, len(got))
	}
	if !reflect.DeepEqual(got, mergeExtents(all, size, g)) {
		t.Fatal("merging page by page differs from merging at once")
	}
	if int64(len(got)) > size/g {
		t.Fatalf("%d ranges for a %d-byte disk with granule %d", len(got), int64(size), g)
	}
	for _, e := range all {
		in := intersect(got, e.Off, e.Len)
		if len(in) != 1 || in[0] != e {
			t.Fatalf("listed range %v not covered by %v", e, in)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Off-got[i-1].End() < g {
			t.Fatalf("ranges %v and %v are closer than the granule", got[i-1], got[i])
		}
	}
}

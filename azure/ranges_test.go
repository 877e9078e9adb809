package azure

import (
	"context"
	"encoding/xml"
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/engine"
)

// Azure's exact answer to Get Page Ranges with prevsnapshot, as the REST
// reference documents it, split over two pages of a listing (a
// continuation marker between them). Azurite never answers like this, so
// the interpretation is tested on the documented answer itself.
const diffPage1 = `<?xml version="1.0" encoding="utf-8"?>
<PageList>
  <PageRange><Start>0</Start><End>511</End></PageRange>
  <ClearRange><Start>512</Start><End>1023</End></ClearRange>
  <PageRange><Start>1048576</Start><End>1052671</End></PageRange>
  <NextMarker>2!abc</NextMarker>
</PageList>`

const diffPage2 = `<?xml version="1.0" encoding="utf-8"?>
<PageList>
  <PageRange><Start>1052672</Start><End>1056767</End></PageRange>
  <ClearRange><Start>4194304</Start><End>5242879</End></ClearRange>
  <PageRange><Start>8388608</Start><End>8389119</End></PageRange>
  <NextMarker />
</PageList>`

func TestDiffAnswerBecomesMergedExtentsWithClearedRanges(t *testing.T) {
	var lists []pageblob.PageList
	for _, doc := range []string{diffPage1, diffPage2} {
		var pl pageblob.PageList
		if err := xml.Unmarshal([]byte(doc), &pl); err != nil {
			t.Fatal(err)
		}
		lists = append(lists, pl)
	}
	// Virtual size 8 MiB: the last range is the footer page (rewritten by
	// whoever resized the disk) and must not be part of the disk's changes.
	l := rangeList{limit: 8 << 20}
	for _, pl := range lists {
		l.add(pl)
	}
	got := l.extents()
	want := []engine.Extent{
		{Off: 0, Len: 1024},          // written + cleared, adjacent: one extent
		{Off: 1 << 20, Len: 8192},    // two ranges split by the marker, merged
		{Off: 4 << 20, Len: 1 << 20}, // cleared: reads as zero now, must be copied
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestMergeExtentsSortsJoinsAndClips(t *testing.T) {
	in := []engine.Extent{{Off: 4096, Len: 512}, {Off: 0, Len: 512}, {Off: 512, Len: 512}, {Off: 4000, Len: 200}, {Off: 9000, Len: 2000}, {Off: 20000, Len: 5}}
	got := mergeExtents(in, 10000, 0)
	want := []engine.Extent{{Off: 0, Len: 1024}, {Off: 4000, Len: 608}, {Off: 9000, Len: 1000}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestIntersectAndCoalesce(t *testing.T) {
	ex := []engine.Extent{{Off: 0, Len: 100}, {Off: 200, Len: 100}, {Off: 1000, Len: 10}}
	got := intersect(ex, 50, 200)
	want := []engine.Extent{{Off: 50, Len: 50}, {Off: 200, Len: 50}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("intersect = %v want %v", got, want)
	}
	if got := intersect(ex, 300, 700); len(got) != 0 {
		t.Fatalf("intersect of a gap = %v", got)
	}
	if got := coalesce(ex, 150); !reflect.DeepEqual(got, []engine.Extent{{Off: 0, Len: 300}, {Off: 1000, Len: 10}}) {
		t.Fatalf("coalesce = %v", got)
	}
	if ex[0].Len != 100 {
		t.Fatal("coalesce changed its input")
	}
}

func TestChangedRangesOnAzuriteCoverTheChange(t *testing.T) {
	ctx := context.Background()
	s, _, c := newTestStorage(t)
	d, err := s.CreateDisk(ctx, c, "d.vhd", 4<<20, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb := rawPageBlob(s, c, "d.vhd")
	rawPut(t, pb, 0, pattern(0, 8192, 1))
	s1, err := d.CreateSnapshot(ctx, SnapshotOptions{Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	rawPut(t, pb, 2<<20, pattern(2<<20, 4096, 2))
	s2, err := d.CreateSnapshot(ctx, SnapshotOptions{Purpose: "phase2"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := d.ChangedRanges(ctx, s1.ID, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Azure answers exactly [2 MiB, +4 KiB); Azurite every allocated range.
	covered := false
	for _, e := range ch {
		if e.Off <= 2<<20 && e.End() >= 2<<20+4096 {
			covered = true
		}
		if e.End() > d.VirtualSize() {
			t.Errorf("extent %v reaches into the footer", e)
		}
	}
	if !covered {
		t.Fatalf("changed ranges %v miss the write at 2 MiB", ch)
	}
	if _, err := d.ChangedRanges(ctx, "", s2.ID); err == nil {
		t.Error("a diff without the older snapshot was accepted")
	}
}

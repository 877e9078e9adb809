// Package disktest is the suite every azure.VMDisk implementation passes
// (as hyperv/hosttest is for hosts, and restic's backend tests are for its
// backends): the workflow relies on exactly what it checks, whatever kind
// of Azure disk it fails back.
package disktest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
)

// Harness gives the suite fresh disks of one kind and a way to change
// them as their running VM would.
type Harness struct {
	// New makes a new, all-zero disk of size bytes (a multiple of 1 MiB)
	// and returns the opener the workflow would use and the disk's
	// reference. The disk is removed when the test ends.
	New func(t *testing.T, size int64) (azure.DiskOpener, azure.DiskRef)
	// Write writes p at off of the live disk (whole 512-byte pages), as
	// the VM's guest does.
	Write func(t *testing.T, ref azure.DiskRef, p []byte, off int64)
	// Clear trims [off, off+n) of the live disk: it reads as zeros after.
	Clear func(t *testing.T, ref azure.DiskRef, off, n int64)
	// Missing is a reference of this kind to a disk that does not exist.
	Missing azure.DiskRef
	// Writable says OpenWriter works (page blobs); other kinds must
	// answer azure.ErrNotWritable.
	Writable bool
}

const (
	mib  = 1 << 20
	size = 8 * mib
)

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Run("OpenGivesRefAndSize", func(t *testing.T) { testOpen(t, h) })
	t.Run("MissingDiskIsNotFound", func(t *testing.T) { testMissing(t, h) })
	t.Run("SnapshotReadsThePointInTime", func(t *testing.T) { testPointInTime(t, h) })
	t.Run("SnapshotsAreListedAndDeleted", func(t *testing.T) { testListDelete(t, h) })
	t.Run("ChangedRangesCoverWritesAndClears", func(t *testing.T) { testChanged(t, h) })
	t.Run("DeletedSnapshotIsNotFound", func(t *testing.T) { testDeletedSnapshot(t, h) })
	t.Run("Writer", func(t *testing.T) { testWriter(t, h) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func open(t *testing.T, h Harness) (azure.VMDisk, azure.DiskRef) {
	t.Helper()
	op, ref := h.New(t, size)
	d, err := op.OpenVMDisk(ctx(t), ref)
	if err != nil {
		t.Fatalf("open %s: %v", ref, err)
	}
	return d, ref
}

// pattern is random data without an all-zero 512-byte page.
func pattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32()) | 1
	}
	return b
}

// readAll reads a snapshot whole through the engine's Source contract,
// checking on the way that nothing outside Allocated holds data.
func readAll(t *testing.T, d azure.VMDisk, snap string) []byte {
	t.Helper()
	src, err := d.OpenSnapshot(ctx(t), snap)
	if err != nil {
		t.Fatalf("open snapshot %s: %v", snap, err)
	}
	defer func() {
		if err := src.Close(ctx(t)); err != nil {
			t.Errorf("close snapshot: %v", err)
		}
	}()
	if src.Size() != d.Size() {
		t.Fatalf("snapshot size %d, disk size %d", src.Size(), d.Size())
	}
	buf := make([]byte, src.Size())
	for off := int64(0); off < src.Size(); off += mib {
		if err := src.ReadAt(ctx(t), buf[off:off+mib], off); err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
	}
	alloc, err := src.Allocated(ctx(t))
	if err != nil {
		t.Fatalf("allocated: %v", err)
	}
	pos := int64(0)
	for _, e := range alloc {
		if e.Off < pos || e.Len <= 0 || e.End() > src.Size() {
			t.Fatalf("allocated list not sorted, disjoint and inside the disk: %v", alloc)
		}
		if !allZero(buf[pos:e.Off]) {
			t.Fatalf("data at [%d, %d), outside the allocated ranges %v", pos, e.Off, alloc)
		}
		pos = e.End()
	}
	if !allZero(buf[pos:]) {
		t.Fatalf("data after the last allocated range (%d)", pos)
	}
	return buf
}

func allZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }

func snapshot(t *testing.T, d azure.VMDisk, purpose string) azure.Snapshot {
	t.Helper()
	s, err := d.CreateSnapshot(ctx(t), azure.SnapshotOptions{JobID: "suite-job", Purpose: purpose})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if s.ID == "" {
		t.Fatal("snapshot without an id")
	}
	return s
}

func testOpen(t *testing.T, h Harness) {
	d, ref := open(t, h)
	if d.Size() != size {
		t.Errorf("Size = %d, want %d", d.Size(), size)
	}
	if d.Ref().Key() != ref.Key() || d.Ref().Kind != ref.Kind {
		t.Errorf("Ref = %+v, opened %+v", d.Ref(), ref)
	}
	if d.Name() == "" || d.Describe() == "" {
		t.Errorf("Name %q and Describe %q must say something", d.Name(), d.Describe())
	}
	if err := d.Problem(); err != nil {
		t.Errorf("a fresh disk has a problem: %v", err)
	}
	if _, err := d.Metadata(ctx(t)); err != nil {
		t.Errorf("Metadata: %v", err)
	}
}

func testMissing(t *testing.T, h Harness) {
	op, _ := h.New(t, mib)
	_, err := op.OpenVMDisk(ctx(t), h.Missing)
	if !errors.Is(err, azure.ErrNotFound) {
		t.Fatalf("open a missing disk: %v, want ErrNotFound", err)
	}
}

func testPointInTime(t *testing.T, h Harness) {
	d, ref := open(t, h)
	a := pattern(1, 3*mib)
	h.Write(t, ref, a, mib)
	s1 := snapshot(t, d, "one")
	b := pattern(2, mib/2)
	h.Write(t, ref, b, 2*mib)
	h.Write(t, ref, b, 6*mib)

	want := make([]byte, size)
	copy(want[mib:], a)
	if got := readAll(t, d, s1.ID); !bytes.Equal(got, want) {
		t.Fatal("the first snapshot does not read as the disk was when it was taken")
	}
	s2 := snapshot(t, d, "two")
	copy(want[2*mib:], b)
	copy(want[6*mib:], b)
	if got := readAll(t, d, s2.ID); !bytes.Equal(got, want) {
		t.Fatal("the second snapshot does not read as the disk was when it was taken")
	}
}

func testListDelete(t *testing.T, h Harness) {
	d, _ := open(t, h)
	s1 := snapshot(t, d, "first")
	s2 := snapshot(t, d, "second")
	list, err := d.ListSnapshots(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != s1.ID || list[1].ID != s2.ID {
		t.Fatalf("ListSnapshots = %+v, want %s then %s", list, s1.ID, s2.ID)
	}
	if list[0].JobID != "suite-job" || list[0].Purpose != "first" || list[1].Purpose != "second" {
		t.Errorf("tags lost: %+v", list)
	}
	if err := d.DeleteSnapshot(ctx(t), s1.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSnapshot(ctx(t), s1.ID); err != nil {
		t.Fatalf("deleting a snapshot already gone must succeed (clean-up repeats): %v", err)
	}
	if err := d.DeleteSnapshot(ctx(t), ""); err == nil {
		t.Fatal("an empty snapshot id must be refused, not taken for the disk")
	}
	list, err = d.ListSnapshots(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != s2.ID {
		t.Fatalf("after delete: %+v, want only %s", list, s2.ID)
	}
}

func testChanged(t *testing.T, h Harness) {
	d, ref := open(t, h)
	h.Write(t, ref, pattern(3, 4*mib), 0)
	s1 := snapshot(t, d, "base")
	h.Write(t, ref, pattern(4, 64<<10), 5*mib)  // new data
	h.Write(t, ref, pattern(5, 4096), mib+8192) // overwrite
	h.Clear(t, ref, 2*mib, mib)                 // trim
	h.Write(t, ref, pattern(6, 512), size-512)  // last page
	s2 := snapshot(t, d, "next")
	ch, err := d.ChangedRanges(ctx(t), s1.ID, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	before, after := readAll(t, d, s1.ID), readAll(t, d, s2.ID)
	covered := make([]bool, size/512)
	pos := int64(-1)
	for _, e := range ch {
		if e.Off < pos || e.Len <= 0 || e.End() > size {
			t.Fatalf("changed ranges not sorted, disjoint and inside the disk: %v", ch)
		}
		pos = e.End()
		for p := e.Off / 512; p < (e.End()+511)/512; p++ {
			covered[p] = true
		}
	}
	for p := range covered {
		o := int64(p) * 512
		if !covered[p] && !bytes.Equal(before[o:o+512], after[o:o+512]) {
			t.Fatalf("page at %d changed between the snapshots but is not in ChangedRanges %v (cleared pages count)", o, ch)
		}
	}
	var listed int64
	for _, e := range ch {
		listed += e.Len
	}
	if listed > 4*mib {
		t.Errorf("ChangedRanges lists %d bytes for about 1.1 MiB of changes: %v", listed, ch)
	}
	if none, err := d.ChangedRanges(ctx(t), s2.ID, s2.ID); err != nil || extentBytes(none) != 0 {
		t.Errorf("a snapshot against itself: %v, %v; want nothing", none, err)
	}
	// The listings alone say what was cleared: exactly the trimmed MiB.
	cleared, err := d.ClearedRanges(ctx(t), s1.ID, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cleared) != 1 || cleared[0] != (engine.Extent{Off: 2 * mib, Len: mib}) {
		t.Errorf("ClearedRanges = %v, want exactly [2 MiB, 3 MiB)", cleared)
	}
	// Backwards, what disappears is what s2 newly allocated.
	back, err := d.ClearedRanges(ctx(t), s2.ID, s1.ID)
	want := []engine.Extent{{Off: 5 * mib, Len: 64 << 10}, {Off: size - 512, Len: 512}}
	if err != nil || !slices.Equal(back, want) {
		t.Errorf("ClearedRanges backwards = %v, %v; want %v", back, err, want)
	}
}

func extentBytes(ex []engine.Extent) int64 {
	var n int64
	for _, e := range ex {
		n += e.Len
	}
	return n
}

func testDeletedSnapshot(t *testing.T, h Harness) {
	d, _ := open(t, h)
	s := snapshot(t, d, "gone")
	if err := d.DeleteSnapshot(ctx(t), s.ID); err != nil {
		t.Fatal(err)
	}
	if src, err := d.OpenSnapshot(ctx(t), s.ID); !errors.Is(err, azure.ErrNotFound) {
		if src != nil {
			_ = src.Close(ctx(t))
		}
		t.Fatalf("open a deleted snapshot: %v, want ErrNotFound", err)
	}
	if _, err := d.OpenSnapshot(ctx(t), ""); err == nil {
		t.Fatal("an empty snapshot id must be refused: reads never come from the live disk")
	}
}

func testWriter(t *testing.T, h Harness) {
	d, _ := open(t, h)
	w, err := d.OpenWriter(ctx(t), azure.WriterOptions{})
	if !h.Writable {
		if !errors.Is(err, azure.ErrNotWritable) {
			t.Fatalf("OpenWriter: %v, want ErrNotWritable", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	p := pattern(7, mib)
	if err := w.WriteAt(ctx(t), p, 3*mib); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteZeroes(ctx(t), 3*mib, 4096); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx(t)); err != nil {
		t.Fatalf("close writer: %v", err)
	}
	s := snapshot(t, d, "written")
	got := readAll(t, d, s.ID)
	want := make([]byte, size)
	copy(want[3*mib:], p)
	clear(want[3*mib : 3*mib+4096])
	if !bytes.Equal(got, want) {
		t.Fatal("what the writer wrote does not read back from a snapshot")
	}
	w2, err := d.OpenWriter(ctx(t), azure.WriterOptions{})
	if err != nil {
		t.Fatalf("a closed writer must give the disk back: %v", err)
	}
	_ = w2.Close(ctx(t))
}

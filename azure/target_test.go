package azure

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/failback/failback/engine"
)

func TestPageBlobTargetSplitsAlignsAndClears(t *testing.T) {
	ctx := context.Background()
	s, ct, c := newTestStorage(t)
	d, err := s.CreateDisk(ctx, c, "rev.vhd", 16*mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	footer := d.Footer()
	tg, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Size() != 16*mib {
		t.Fatalf("target size %d", tg.Size())
	}

	// Unaligned writes and clears are refused before any request.
	ct.reset()
	for _, w := range []struct{ off, n int64 }{{100, 512}, {0, 1000}, {512, 511}} {
		if err := tg.WriteAt(ctx, make([]byte, w.n), w.off); !errors.Is(err, ErrUnaligned) {
			t.Errorf("WriteAt(%d, %d bytes) = %v, want ErrUnaligned", w.off, w.n, err)
		}
		if err := tg.WriteZeroes(ctx, w.off, w.n); !errors.Is(err, ErrUnaligned) {
			t.Errorf("WriteZeroes(%d, %d) = %v, want ErrUnaligned", w.off, w.n, err)
		}
	}
	// The footer is not part of the disk.
	if err := tg.WriteAt(ctx, make([]byte, 512), 16*mib); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("write over the footer: %v", err)
	}
	// off+n overflowing int64 is out of range, not a write at a wrapped offset.
	far := int64(math.MaxInt64) &^ 511
	if err := tg.WriteAt(ctx, make([]byte, 1024), far); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("write at an overflowing offset: %v", err)
	}
	if err := tg.WriteZeroes(ctx, far, 1024); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("clear at an overflowing offset: %v", err)
	}
	if err := tg.ReadAt(ctx, make([]byte, 1024), far); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("read at an overflowing offset: %v", err)
	}
	if ct.requests.Load() != 0 {
		t.Errorf("%d requests sent for refused writes", ct.requests.Load())
	}

	// 9 MiB of data: three Put Page calls of at most 4 MiB.
	data := pattern(mib, 9*mib, 5)
	ct.reset()
	if err := tg.WriteAt(ctx, data, mib); err != nil {
		t.Fatal(err)
	}
	if ct.updates.Load() != 3 || ct.maxUpdate.Load() != 4*mib {
		t.Errorf("9 MiB write: %d Put Page calls, largest %d bytes; want 3, 4 MiB", ct.updates.Load(), ct.maxUpdate.Load())
	}
	got := make([]byte, 9*mib)
	if err := tg.ReadAt(ctx, got, mib); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back differs from what was written")
	}

	// Zeros: cleared, not uploaded; the pages stop being allocated.
	ct.reset()
	if err := tg.WriteZeroes(ctx, 2*mib, mib); err != nil {
		t.Fatal(err)
	}
	if err := tg.WriteAt(ctx, make([]byte, 4*mib), 4*mib); err != nil {
		t.Fatal(err)
	}
	if ct.updates.Load() != 0 || ct.clears.Load() != 2 {
		t.Errorf("zeros: %d uploads, %d clears; want 0, 2", ct.updates.Load(), ct.clears.Load())
	}
	alloc, err := tg.Allocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Extent{{Off: mib, Len: mib}, {Off: 3 * mib, Len: mib}, {Off: 8 * mib, Len: 2 * mib}}
	if !reflect.DeepEqual(alloc, want) {
		t.Errorf("Allocated = %v, want %v", alloc, want)
	}
	if err := tg.ReadAt(ctx, got[:mib], 2*mib); err != nil {
		t.Fatal(err)
	}
	if !allZero(got[:mib]) {
		t.Error("cleared range does not read as zeros")
	}
	if err := tg.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The footer is untouched: the disk still opens with the same footer.
	d2, err := s.OpenDisk(ctx, c, "rev.vhd")
	if err != nil {
		t.Fatal(err)
	}
	if d2.Footer() != footer {
		t.Error("footer changed by data writes")
	}
}

func TestSplitZeroRuns(t *testing.T) {
	const u = 1024
	p := make([]byte, 5*u+512)
	copy(p[u:], bytes.Repeat([]byte{1}, 10))     // unit 1 has data
	copy(p[3*u+5:], bytes.Repeat([]byte{1}, 10)) // unit 3 has data
	got := splitZeroRuns(p, u)
	want := []span{{0, u, true}, {u, u, false}, {2 * u, u, true}, {3 * u, u, false}, {4 * u, u + 512, true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if got := splitZeroRuns(make([]byte, 3*u), u); len(got) != 1 || !got[0].zero {
		t.Fatalf("all zeros: %v", got)
	}
}

package workflow

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
)

// SetStateSpace replaces how the state folder's volume is measured, for
// the tests of package workflow_test; the returned func restores it.
func SetStateSpace(f func(string) (hyperv.Space, error)) func() {
	old := stateSpace
	stateSpace = f
	return func() { stateSpace = old }
}

// pageBlobLike is an Azure disk that lists its allocated ranges.
type pageBlobLike struct {
	azure.VMDisk
	size int64
	ex   []engine.Extent
}

func (d pageBlobLike) Size() int64 { return d.size }
func (d pageBlobLike) LiveAllocated(context.Context) ([]engine.Extent, error) {
	return d.ex, nil
}

// managedLike lists nothing: only the image bounds the growth.
type managedLike struct {
	azure.VMDisk
	size int64
}

func (d managedLike) Size() int64 { return d.size }

const mib = 1 << 20

func roomImage(t *testing.T, name string, o vdisk.CreateOptions, written ...int64) targetDisk {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	img, err := vdisk.Create(p, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range written {
		if _, err := img.WriteAt([]byte{1}, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	return targetDisk{image: p, local: p, localOK: true}
}

// A dynamic VHDX grows by the blocks the Azure disk holds that it has
// not; the journal holds every allocated block at the engine's size.
func TestImageRoomCountsBlocksTheImageLacks(t *testing.T) {
	ctx := context.Background()
	// 64 MiB, 1 MiB blocks, blocks 0-3 allocated.
	d := roomImage(t, "a.vhdx", vdisk.CreateOptions{Size: 64 * mib, BlockSize: mib}, 0, mib, 2*mib, 3*mib+5)
	// The Azure disk holds blocks 2-9 (the last range ends inside block 9).
	src := pageBlobLike{size: 64 * mib, ex: []engine.Extent{{Off: 2 * mib, Len: 3 * mib}, {Off: 5 * mib, Len: 4*mib + 1}}}
	r, ok := (&Manager{}).imageRoom(ctx, &target{}, d, src, mib)
	if !ok || r.bound {
		t.Fatalf("room %+v, %v", r, ok)
	}
	if r.growth != 6*mib {
		t.Errorf("growth %d, want 6 MiB (blocks 4-9)", r.growth)
	}
	if want := int64(4*mib + 64*journalPerBlock); r.journal != want {
		t.Errorf("journal %d, want %d", r.journal, want)
	}
	// Without a listing every unallocated block counts: at most.
	r, ok = (&Manager{}).imageRoom(ctx, &target{}, d, managedLike{size: 64 * mib}, mib)
	if !ok || !r.bound || r.growth != 60*mib {
		t.Errorf("managed: %+v, %v; want a 60 MiB bound", r, ok)
	}
	// A disk of another size is checkImage's to refuse.
	if _, ok := (&Manager{}).imageRoom(ctx, &target{}, d, managedLike{size: 32 * mib}, mib); ok {
		t.Error("counted an image whose size differs")
	}
}

// A dynamic VHD counts each new block's sector bitmap; a fixed image
// does not grow; a missing one is not counted here.
func TestImageRoomVHDAndFixed(t *testing.T) {
	ctx := context.Background()
	d := roomImage(t, "b.vhd", vdisk.CreateOptions{Size: 8 * mib}, 0)
	r, ok := (&Manager{}).imageRoom(ctx, &target{}, d, pageBlobLike{size: 8 * mib, ex: []engine.Extent{{Off: 0, Len: 8 * mib}}}, mib)
	if !ok || r.growth != 3*(2*mib+512) {
		t.Errorf("dynamic VHD: %+v, %v; want 3 blocks of 2 MiB and their bitmaps", r, ok)
	}
	f := roomImage(t, "c.vhdx", vdisk.CreateOptions{Size: 8 * mib, Fixed: true})
	if r, ok := (&Manager{}).imageRoom(ctx, &target{}, f, managedLike{size: 8 * mib}, mib); !ok || r.growth != 0 {
		t.Errorf("fixed: %+v, %v", r, ok)
	}
	gone := targetDisk{local: filepath.Join(t.TempDir(), "gone.vhdx"), localOK: true}
	if _, ok := (&Manager{}).imageRoom(ctx, &target{}, gone, nil, mib); ok {
		t.Error("counted a missing image")
	}
}

func TestBlockRunsOutwardAndInward(t *testing.T) {
	ex := []vdisk.Extent{{Off: 10, Len: 100}, {Off: 4096, Len: 8192}, {Off: 5 * 4096, Len: 100}}
	if got := blockCount(ex, 4096, 6*4096, true); got != 4 {
		t.Errorf("outward %d, want 4 (blocks 0, 1, 2, 5)", got)
	}
	// Inward only whole blocks count, but the disk's last block is whole
	// up to the disk's end.
	if got := blockCount(ex, 4096, 5*4096+100, false); got != 3 {
		t.Errorf("inward %d, want 3 (blocks 1, 2 and the short last one)", got)
	}
	a := blockRuns([]vdisk.Extent{{Off: 0, Len: 10 * 4096}}, 4096, 1<<20, true)
	b := blockRuns([]vdisk.Extent{{Off: 2 * 4096, Len: 2 * 4096}, {Off: 8 * 4096, Len: 10 * 4096}}, 4096, 1<<20, false)
	if got := overlapLen(a, b); got != 4 {
		t.Errorf("overlap %d, want 4", got)
	}
}

// A figure that rests on every unallocated block (a managed disk) says
// "at most"; the fix names what to free and where.
func TestRoomRowSaysAtMostForABound(t *testing.T) {
	v := &volumeRoom{host: "hv01", volume: `D:\`, folder: `D:\VMs\web01`, free: 3774873}
	v.add("web01", 9<<30, true, "web01 web01.vhdx grows by at most 9.0 GiB (every unallocated block)")
	r := v.row()
	if r.OK || r.VM != "web01" || r.Detail != `need at most 9.2 GiB on D:\, 3.6 MiB free: web01 web01.vhdx grows by at most 9.0 GiB (every unallocated block), plus a margin of 184 MiB` {
		t.Fatalf("row %+v", r)
	}
	if r.Fix != `free 9.2 GiB on D:\ of hv01 (the folder D:\VMs\web01), or fail back to an alternate location with room; then run the pre-flight again` {
		t.Fatalf("fix %q", r.Fix)
	}
	v.free = 20 << 30
	if r := v.row(); !r.OK || r.Fix != "" {
		t.Fatalf("with room: %+v", r)
	}
}

package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/failback/failback/engine/enginetest"
	"github.com/failback/failback/vdisk"
)

// TestAwkwardSizesAcrossFormats syncs onto every target format with sizes
// that are whole sectors but not whole 4 KiB pages nor whole image blocks,
// image blocks larger than the disk, and engine blocks of 4 KiB and 1 MiB,
// so the short tail block goes through every write, zero and undo path.
// After the sync the target reads as the source; after a rollback it reads
// as it did before, byte for byte.
func TestAwkwardSizesAcrossFormats(t *testing.T) {
	targets := []vdisk.CreateOptions{
		{Format: vdisk.Raw},
		{Format: vdisk.VHD, Fixed: true},
		{Format: vdisk.VHD, BlockSize: 2 << 20},
		{Format: vdisk.VHDX, BlockSize: 1 << 20},
		{Format: vdisk.VHDX, BlockSize: 64 << 20}, // one block, larger than the disk
		{Format: vdisk.VHDX, Fixed: true, BlockSize: 1 << 20},
	}
	sizes := []int64{2<<20 + 1536, 512 * 7}
	rng := rand.New(rand.NewPCG(5, 9))
	for _, to := range targets {
		for _, size := range sizes {
			for _, bs := range []int64{4 << 10, 1 << 20} {
				for _, mode := range []Mode{Delta, Full} {
					name := fmt.Sprintf("%s-fixed=%v-bs%d/size%d/eng%d/%s", to.Format, to.Fixed, to.BlockSize, size, bs, mode)
					t.Run(name, func(t *testing.T) { awkwardCase(t, rng, to, size, bs, mode) })
				}
			}
		}
	}
}

func awkwardCase(t *testing.T, rng *rand.Rand, to vdisk.CreateOptions, size, bs int64, mode Mode) {
	dir := t.TempDir()
	src := enginetest.NewMemDisk(size, 4096)
	dst := createImage(t, filepath.Join(dir, "dst."+string(to.Format)), to, size)
	// Old target content: data, zeros written, and a tail; the source
	// likewise, sometimes with the same tail, so not everything differs.
	old := make([]byte, size)
	scribble(rng, size, func(p []byte, off int64) {
		writeImage(t, dst, p, off)
		copy(old[off:], p)
	})
	tail := min(size, 700)
	p := randBytes(rng, tail)
	writeImage(t, dst, p, size-tail)
	copy(old[size-tail:], p)
	want := make([]byte, size)
	scribble(rng, size, func(p []byte, off int64) {
		mustWrite(src, p, off)
		copy(want[off:], p)
	})
	if rng.IntN(2) == 0 {
		mustWrite(src, old[size-tail:], size-tail)
		copy(want[size-tail:], old[size-tail:])
	}

	jdir := filepath.Join(dir, "journal")
	if _, err := Sync(bg, src, ImageTarget(dst), Options{Mode: mode, BlockSize: bs, JournalDir: jdir, Verify: true}); err != nil {
		t.Fatal(err)
	}
	if got := readAllImage(t, dst); !bytes.Equal(got, want) {
		t.Fatalf("after sync the target differs from the source at %d", firstDiff(got, want))
	}
	if err := dst.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(bg, jdir, ImageTarget(dst), RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readAllImage(t, dst); !bytes.Equal(got, old) {
		t.Fatalf("after rollback the target differs from the original at %d", firstDiff(got, old))
	}
}

// scribble makes six random writes of data or zeros.
func scribble(rng *rand.Rand, size int64, write func(p []byte, off int64)) {
	for range 6 {
		off := rng.Int64N(size)
		n := min(1+rng.Int64N(size/3+1), size-off)
		p := randBytes(rng, n)
		if rng.IntN(3) == 0 {
			p = make([]byte, n)
		}
		write(p, off)
	}
}

func readAllImage(t *testing.T, img vdisk.Image) []byte {
	t.Helper()
	p := make([]byte, img.Size())
	if n, err := img.ReadAt(p, 0); n != len(p) {
		t.Fatalf("read image: %d bytes: %v", n, err)
	}
	return p
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

package engine

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/vdisk"
)

// imageState is what a rollback must give back besides the bytes: the
// file's size and the image's own allocation (its BAT).
type imageState struct {
	fileSize int64
	alloc    []Extent
}

func stateOf(t *testing.T, path string) imageState {
	t.Helper()
	img, err := vdisk.Open(path, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	alloc, err := img.Allocated()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return imageState{fileSize: st.Size(), alloc: alloc}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	a, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(b, a); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// syncImages runs one journaled pass from the raw image src onto dst.
func syncImages(t *testing.T, src, dst, journal string, o Options) {
	t.Helper()
	s, err := vdisk.Open(src, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := vdisk.Open(dst, vdisk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o.JournalDir, o.TargetID = journal, "dst"
	if _, err := Sync(bg, ImageSource(s), ImageTarget(d), o); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRollbackGivesBackTheImageAsItWas: after two passes (delta, then
// ranges) onto a dynamic VHDX or VHD, which allocate new blocks at the
// end of the file and zero others, rolling the passes back newest first
// leaves the image file the size it was, with the same blocks allocated
// (those unallocated before are unallocated again) and the same bytes;
// qemu-img agrees (check, compare with a copy taken before).
func TestRollbackGivesBackTheImageAsItWas(t *testing.T) {
	for _, tc := range []struct {
		format             vdisk.Format
		imgBlock, bs, size int64
	}{
		{vdisk.VHDX, 1 << 20, 256 << 10, 24 << 20},
		{vdisk.VHDX, 1 << 20, 1 << 20, 24 << 20},
		{vdisk.VHDX, 0, 1 << 20, 160 << 20}, // Hyper-V's 32 MiB blocks
		{vdisk.VHD, 0, 1 << 20, 24 << 20},   // 2 MiB blocks
		{vdisk.VHD, 0, 2 << 20, 24 << 20},
	} {
		size := tc.size
		t.Run(fmt.Sprintf("%s/block%d/engine%d", tc.format, tc.imgBlock>>20, tc.bs>>10), func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(tc.bs), 3))
			dst := filepath.Join(dir, "dst."+string(tc.format))
			img, err := vdisk.Create(dst, vdisk.CreateOptions{Size: size, BlockSize: tc.imgBlock})
			if err != nil {
				t.Fatal(err)
			}
			blk := img.Info().BlockSize
			orig := make([]byte, size)
			// The target: data in some image blocks, allocated zeros in
			// one, the rest (most) unallocated.
			for b := int64(0); b*blk < size; b++ {
				switch b % 5 {
				case 1, 3:
					n := min(blk, size-b*blk)
					copy(orig[b*blk:], randBytes(rng, n/2))
				case 4:
					if b == 4 {
						writeImage(t, img, make([]byte, 4096), b*blk) // allocated zeros
					}
				}
			}
			for off := int64(0); off < size; off += blk {
				if !isAllZero(orig[off:min(off+blk, size)]) {
					writeImage(t, img, orig[off:min(off+blk, size)], off)
				}
			}
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			copyFile(t, dst, filepath.Join(dir, "orig."+string(tc.format)))
			before := stateOf(t, dst)

			// Pass 1: data everywhere but in one data block, which the
			// source zeroes; pass 2: a few ranges change again.
			want := randBytes(rng, size)
			clear(want[1*blk : 2*blk])
			src := filepath.Join(dir, "src1.raw")
			writeRaw(t, src, want, nil)
			j1, j2 := filepath.Join(dir, "pass-1"), filepath.Join(dir, "pass-2")
			syncImages(t, src, dst, j1, Options{BlockSize: tc.bs, Threads: 2})
			ranges := []Extent{{Off: 3 << 20, Len: 5 << 20}, {Off: 17 << 20, Len: 1 << 20}}
			for _, r := range ranges {
				copy(want[r.Off:r.End()], randBytes(rng, r.Len))
			}
			src = filepath.Join(dir, "src2.raw")
			writeRaw(t, src, want, nil)
			syncImages(t, src, dst, j2, Options{Mode: Ranges, Ranges: ranges, BlockSize: tc.bs, Threads: 2})
			synced := stateOf(t, dst)
			if synced.fileSize <= before.fileSize || len(synced.alloc) == 0 || slices.Equal(synced.alloc, before.alloc) {
				t.Fatalf("the passes should have allocated new blocks: %+v -> %+v", before, synced)
			}

			for _, j := range []string{j2, j1} {
				d := openImage(t, dst)
				if _, err := Rollback(bg, j, ImageTarget(d), RollbackOptions{TargetID: "dst"}); err != nil {
					t.Fatal(err)
				}
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
			}
			after := stateOf(t, dst)
			if after.fileSize != before.fileSize {
				t.Errorf("file size %d after the rollback, %d before (%d after the sync)", after.fileSize, before.fileSize, synced.fileSize)
			}
			if !slices.Equal(after.alloc, before.alloc) {
				t.Errorf("allocated %v after the rollback, %v before", after.alloc, before.alloc)
			}
			if got := readImage(t, dst); string(got) != string(orig) {
				t.Fatalf("the bytes differ from before (first at %d)", firstDiff(got, orig))
			}
			if tc.format == vdisk.VHDX {
				testenv.Qemu(t, "check", "-f", "vhdx", dst)
			}
			qemuCompare(t, filepath.Join(dir, "orig."+string(tc.format)), tc.format, dst, tc.format)
		})
	}
}

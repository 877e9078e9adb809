package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/failback/failback/engine/enginetest"
	"github.com/failback/failback/vdisk"
)

// TestSyncIntoDifferencingDisk is a test failback's disk path: a delta sync
// (and then a ranges pass) into a differencing VHDX over the on-premises
// disk makes the chain read as the source, writes only the blocks that
// differ into the child (the file stays small), never changes the parent's
// file, and a rollback makes the chain read as the parent again.
func TestSyncIntoDifferencingDisk(t *testing.T) {
	for _, bs := range []int64{4 << 10, 1 << 20} {
		t.Run(fmt.Sprintf("engine-block-%d", bs), func(t *testing.T) {
			dir := t.TempDir()
			size := int64(24<<20 + 1536)
			rng := rand.New(rand.NewPCG(uint64(bs), 3))
			parentPath := filepath.Join(dir, "db01.vhdx")
			parent := createImage(t, parentPath, vdisk.CreateOptions{Format: vdisk.VHDX, BlockSize: 1 << 20}, size)
			old := randBytes(rng, size)
			clear(old[8<<20 : 12<<20]) // a stretch the parent never wrote
			writeImage(t, parent, old[:8<<20], 0)
			writeImage(t, parent, old[12<<20:], 12<<20)
			if err := parent.Close(); err != nil {
				t.Fatal(err)
			}
			sum := func() [32]byte {
				b, err := os.ReadFile(parentPath)
				if err != nil {
					t.Fatal(err)
				}
				return sha256.Sum256(b)
			}
			before := sum()

			// Azure: the same disk with a few changes, one of them zeros.
			src := enginetest.NewMemDisk(size, 4096)
			mustWrite(src, old, 0)
			want := bytes.Clone(old)
			for _, c := range []struct{ off, n int64 }{{4096, 100}, {3<<20 + 7, 70000}, {9 << 20, 1 << 20}, {size - 512, 512}} {
				p := randBytes(rng, c.n)
				mustWrite(src, p, c.off)
				copy(want[c.off:], p)
			}
			mustWrite(src, make([]byte, 1<<20), 16<<20)
			clear(want[16<<20 : 17<<20])

			child, err := vdisk.CreateDifferencing(filepath.Join(dir, "db01-test.vhdx"), vdisk.DiffOptions{Parent: parentPath})
			if err != nil {
				t.Fatal(err)
			}
			defer child.Close()
			jdir := filepath.Join(dir, "pass-1")
			st, err := Sync(bg, src, ImageTarget(child), Options{Mode: Delta, BlockSize: bs, JournalDir: jdir, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := readAllImage(t, child); !bytes.Equal(got, want) {
				t.Fatalf("after the delta sync the chain differs from the source at %d", firstDiff(got, want))
			}
			if err := child.Flush(); err != nil {
				t.Fatal(err)
			}
			// Five changed regions of 2 MiB child blocks at most (three
			// blocks for the 70000 bytes across a boundary: six), plus
			// headers, log, metadata, BAT and one sector bitmap block.
			if fs := child.Info().FileSize; fs > 5<<20+6*(2<<20) {
				t.Fatalf("child file is %d bytes after %d blocks written: more than the changed blocks", fs, st.BlocksDiffered)
			}

			// A catch-up pass: ranges onto the same chain.
			p := randBytes(rng, 3000)
			mustWrite(src, p, 20<<20)
			copy(want[20<<20:], p)
			if _, err := Sync(bg, src, ImageTarget(child), Options{Mode: Ranges, BlockSize: bs, JournalDir: filepath.Join(dir, "pass-2"),
				Ranges: []Extent{{Off: 20 << 20, Len: 3000}}, Verify: true}); err != nil {
				t.Fatal(err)
			}
			if got := readAllImage(t, child); !bytes.Equal(got, want) {
				t.Fatalf("after the ranges pass the chain differs at %d", firstDiff(got, want))
			}
			for _, j := range []string{"pass-2", "pass-1"} {
				if _, err := Rollback(bg, filepath.Join(dir, j), ImageTarget(child), RollbackOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if got := readAllImage(t, child); !bytes.Equal(got, old) {
				t.Fatalf("after rollback the chain differs from the parent at %d", firstDiff(got, old))
			}
			if sum() != before {
				t.Fatal("the parent's file changed")
			}
		})
	}
}

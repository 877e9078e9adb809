package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

// blockSums hashes every block of d directly, the oracle for sums files.
func blockSums(d *enginetest.MemDisk, bs int64) []Sum {
	p := d.Bytes()
	var out []Sum
	for off := int64(0); off < int64(len(p)); off += bs {
		out = append(out, HashBlock(p[off:min(off+bs, int64(len(p)))]))
	}
	return out
}

func readSumsFile(t *testing.T, path string) []Sum {
	t.Helper()
	f, bs, size, err := readSumsHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := (size + bs - 1) / bs
	out := make([]Sum, n)
	for i := range out {
		if _, err := f.ReadAt(out[i][:], sumsHeaderSize+16*int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestSumsFileInEveryMode: the sums file a sync writes holds the final
// target's block sums, in every mode, also when the job was interrupted
// and resumed.
func TestSumsFileInEveryMode(t *testing.T) {
	for seed := range uint64(6) {
		for _, mode := range []Mode{Delta, Full, Ranges} {
			c := newPropCase(seed + 100)
			sums := filepath.Join(t.TempDir(), "disk.sums")
			dir := filepath.Join(t.TempDir(), "j")
			o := Options{Mode: mode, BlockSize: c.bs, JournalDir: dir, SumsFile: sums, CheckpointInterval: time.Millisecond, Threads: 1}
			if mode == Ranges {
				o.Ranges = rangesFor(c, seed)
			}
			if seed%2 == 1 {
				// Interrupt, then resume with the partial sums file.
				slow := &slowTarget{MemDisk: c.dst, delay: time.Millisecond}
				ctx, cancel := context.WithCancel(bg)
				go func() {
					for slow.writes.Load() < 2 {
						time.Sleep(100 * time.Microsecond)
					}
					cancel()
				}()
				Sync(ctx, c.src, slow, o)
				cancel()
			}
			if _, err := Sync(bg, c.src, c.dst, o); err != nil {
				t.Fatalf("%s %s: %v", mode, c, err)
			}
			if got, want := readSumsFile(t, sums), blockSums(c.dst, c.bs); !slices.Equal(got, want) {
				t.Fatalf("%s %s: sums file does not match the target", mode, c)
			}
			if _, err := os.Stat(sums + ".partial"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("partial sums file left behind")
			}
		}
	}
}

// TestChangedBlocksFindsLocalChanges: after a sync recorded the sums,
// ChangedBlocks names exactly the blocks changed on the disk since.
func TestChangedBlocksFindsLocalChanges(t *testing.T) {
	const bs = 16 << 10
	rng := rand.New(rand.NewPCG(5, 5))
	size := int64(100*bs + 1000)
	src := randomDisk(rng, size, 4<<10)
	dst := enginetest.NewMemDisk(size, 4<<10)
	sums := filepath.Join(t.TempDir(), "disk.sums")
	if _, err := Sync(bg, src, dst, Options{Mode: Full, BlockSize: bs, NoJournal: true, SumsFile: sums}); err != nil {
		t.Fatal(err)
	}
	got, err := ChangedBlocks(bg, dst, sums, ChangedOptions{})
	if err != nil || len(got) != 0 {
		t.Fatalf("unchanged disk: %v %v", got, err)
	}
	before := dst.Bytes()
	mustWrite(dst, []byte{1, 2, 3}, 3*bs+5)                // scattered bytes
	mustWrite(dst, randBytes(rng, 2*bs), 10*bs)            // two whole blocks
	mustWrite(dst, []byte{7}, size-1)                      // the short tail
	if err := dst.WriteZeroes(bg, 50*bs, bs); err != nil { // released
		t.Fatal(err)
	}
	blocks, _ := diffBlocks(before, dst.Bytes(), bs)
	want := blocksToExtents(blocks, bs, size)
	got, err = ChangedBlocks(bg, dst, sums, ChangedOptions{Threads: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("changed %v, want %v", got, want)
	}
	// A damaged file is refused, never trusted.
	f, _ := os.OpenFile(sums, os.O_RDWR, 0)
	f.WriteAt([]byte{0xff}, sumsHeaderSize+16*7)
	f.Close()
	if _, err := ChangedBlocks(bg, dst, sums, ChangedOptions{}); !errors.Is(err, ErrSumsCorrupt) {
		t.Fatalf("corrupt sums file: %v", err)
	}
	if _, err := ChangedBlocks(bg, enginetest.NewMemDisk(size+bs, 0), sums, ChangedOptions{}); err == nil {
		t.Fatal("sums of another disk size accepted")
	}
}

package engine

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/failback/failback/engine/enginetest"
)

// A reader must not hand its buffer back before hashing it: with one
// buffer slot and two threads, the next reader fills that very buffer at
// once, and an early hand-back reports unchanged blocks as changed.
func TestChangedBlocksDoesNotHashAReusedBuffer(t *testing.T) {
	const bs = 1 << 20
	rng := rand.New(rand.NewPCG(9, 9))
	size := int64(64 * bs)
	src := randomDisk(rng, size, 64<<10)
	dst := enginetest.NewMemDisk(size, 64<<10)
	sums := filepath.Join(t.TempDir(), "disk.sums")
	if _, err := Sync(bg, src, dst, Options{Mode: Full, BlockSize: bs, NoJournal: true, SumsFile: sums}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		got, err := ChangedBlocks(bg, dst, sums, ChangedOptions{Threads: 2, MemoryLimit: 4 * bs})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("unchanged disk reported changed: %v", got)
		}
	}
}

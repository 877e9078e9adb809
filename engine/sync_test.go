package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

// case of the property tests: a random target and a source derived from
// it by random changes.
type propCase struct {
	seed        uint64
	size, bs    int64
	chunk       int64
	dst, src    *enginetest.MemDisk
	orig, want  []byte
	changed     []int64
	changedSize int64
}

func newPropCase(seed uint64) propCase {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	bs := int64(4<<10) << rng.IntN(4) // 4..32 KiB
	size := bs*(1+rng.Int64N(40)) + rng.Int64N(bs)*int64(rng.IntN(2))
	chunk := int64(4<<10) << rng.IntN(4)
	dst := randomDisk(rng, size, chunk)
	var src *enginetest.MemDisk
	if rng.IntN(8) == 0 {
		src = randomDisk(rng, size, chunk) // unrelated disks
	} else {
		src = mutate(rng, dst, bs, 1+rng.IntN(12))
	}
	c := propCase{seed: seed, size: size, bs: bs, chunk: chunk, dst: dst, src: src, orig: dst.Bytes(), want: src.Bytes()}
	c.changed, c.changedSize = diffBlocks(c.orig, c.want, bs)
	return c
}

func (c propCase) String() string {
	return fmt.Sprintf("seed %d: size %d, block %d, chunk %d, %d blocks differ", c.seed, c.size, c.bs, c.chunk, len(c.changed))
}

// propRuns is the number of random cases; FAILBACK_STRESS=1 (without
// -short) runs ten times more.
func propRuns() uint64 {
	if !testing.Short() && os.Getenv("FAILBACK_STRESS") != "" {
		return 400
	}
	return 40
}

// TestSyncPropertyAllModes syncs random disk pairs in every mode, with and
// without a journal, through the BlockHasher and with a target without
// Zeroer, and checks the target equals the source, only differing blocks
// were transferred, zeros never allocated space, and rollback restores.
func TestSyncPropertyAllModes(t *testing.T) {
	for seed := range propRuns() {
		for _, mode := range []Mode{Delta, Full, Ranges} {
			for _, journal := range []bool{false, true} {
				c := newPropCase(seed)
				name := fmt.Sprintf("%s/journal=%v/%s", mode, journal, c)
				dst := c.dst
				var target Target = dst
				var source Source = c.src
				hs := &hasherSource{MemDisk: c.src}
				if seed%3 == 1 && mode == Delta {
					source = hs
				}
				if seed%5 == 2 {
					target = plainTarget{dst}
				}
				o := Options{Mode: mode, BlockSize: c.bs, Threads: 1 + int(seed%5), NoJournal: !journal, Verify: true}
				if journal {
					o.JournalDir = filepath.Join(t.TempDir(), "j")
				}
				if mode == Ranges {
					o.Ranges = rangesFor(c, seed)
				}
				before := dst.Clone()
				st, err := Sync(bg, source, target, o)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(dst.Bytes(), c.want) {
					_, n := diffBlocks(dst.Bytes(), c.want, c.bs)
					t.Fatalf("%s: target differs from source in %d bytes of blocks", name, n)
				}
				if _, ok := target.(Zeroer); ok {
					checkAllocation(t, name, before, dst, c.want, c.bs)
				}
				checkCounts(t, name, c, mode, journal, st)
				if source == hs && hs.hashed.Load() == 0 && len(c.changed) > 0 && c.src.Size() > 0 {
					t.Fatalf("%s: the source's BlockHasher was not used", name)
				}
				if source == hs {
					// Only differing non-zero blocks cross the WAN.
					var need int64
					for _, b := range c.changed {
						off := b * c.bs
						end := min(off+c.bs, c.size)
						if !isAllZero(c.want[off:end]) {
							need += end - off
						}
					}
					if st.BytesReadSource != need {
						t.Fatalf("%s: read %d source bytes through the hasher, want %d", name, st.BytesReadSource, need)
					}
				}
				if journal {
					if _, err := Rollback(bg, o.JournalDir, target, RollbackOptions{}); err != nil {
						t.Fatalf("%s: rollback: %v", name, err)
					}
					if !bytes.Equal(dst.Bytes(), c.orig) {
						t.Fatalf("%s: rollback did not restore the original target", name)
					}
					if _, err := os.Stat(o.JournalDir); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("%s: rollback left the journal directory: %v", name, err)
					}
				}
			}
		}
	}
}

// rangesFor is the changed blocks as byte ranges, sometimes with a few
// unchanged ranges thrown in, as a snapshot diff (a superset) gives.
func rangesFor(c propCase, seed uint64) []Extent {
	var r []Extent
	for _, b := range c.changed {
		off := b*c.bs + int64(seed)%c.bs // unaligned inside the block
		r = append(r, Extent{Off: min(off, c.size-1), Len: 1})
	}
	if seed%2 == 0 && c.size > 0 {
		r = append(r, Extent{Off: 0, Len: c.size / 3})
	}
	return r
}

func checkCounts(t *testing.T, name string, c propCase, mode Mode, journal bool, st Stats) {
	t.Helper()
	nblocks := (c.size + c.bs - 1) / c.bs
	if mode != Ranges && st.BlocksChecked != nblocks {
		t.Fatalf("%s: checked %d blocks of %d", name, st.BlocksChecked, nblocks)
	}
	if mode == Delta || journal {
		// Delta compares sums; with a journal, full and ranges compare the
		// old bytes they must save anyway.
		if st.BlocksDiffered != int64(len(c.changed)) || st.BytesTransferred != c.changedSize {
			t.Fatalf("%s: transferred %d blocks (%d bytes), want %d blocks (%d bytes)", name, st.BlocksDiffered, st.BytesTransferred, len(c.changed), c.changedSize)
		}
	}
	if st.BytesTransferred != st.BytesWritten+st.BytesZeroed {
		t.Fatalf("%s: transferred %d != written %d + zeroed %d", name, st.BytesTransferred, st.BytesWritten, st.BytesZeroed)
	}
	if journal && st.UndoBytes > c.changedSize {
		t.Fatalf("%s: undo journal holds %d bytes for %d changed bytes", name, st.UndoBytes, c.changedSize)
	}
	if !st.Verified || st.BlocksVerified != st.Blocks {
		t.Fatalf("%s: not verified: %+v", name, st)
	}
}

// TestSyncIsIdempotent: a second delta sync finds nothing to transfer.
func TestSyncIsIdempotent(t *testing.T) {
	c := newPropCase(7)
	if _, err := Sync(bg, c.src, c.dst, Options{BlockSize: c.bs, NoJournal: true}); err != nil {
		t.Fatal(err)
	}
	st, err := Sync(bg, c.src, c.dst, Options{BlockSize: c.bs, NoJournal: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.BlocksDiffered != 0 || st.BytesWritten != 0 || st.BytesZeroed != 0 {
		t.Fatalf("second sync transferred: %+v", st)
	}
}

// TestSyncSkipsUnallocatedWithoutReading: blocks unallocated on both
// sides are settled without a read, and a zero source block is never read
// when the source says it is unallocated.
func TestSyncSkipsUnallocatedWithoutReading(t *testing.T) {
	const bs = 64 << 10
	src, dst := enginetest.NewMemDisk(1<<30, bs), enginetest.NewMemDisk(1<<30, bs)
	mustWrite(src, bytes.Repeat([]byte{1}, bs), 5*bs)
	mustWrite(dst, bytes.Repeat([]byte{2}, bs), 9*bs)
	st, err := Sync(bg, src, dst, Options{BlockSize: bs, NoJournal: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.BytesReadSource != bs || st.BytesReadTarget != bs {
		t.Fatalf("read %d source and %d target bytes of a 1 GiB disk; want one block each", st.BytesReadSource, st.BytesReadTarget)
	}
	if st.BlocksDiffered != 2 || st.BytesZeroed != bs || st.BytesWritten != bs {
		t.Fatalf("stats %+v", st)
	}
	if st.ZeroBlocks != st.BlocksChecked-1 {
		t.Fatalf("zero blocks %d of %d", st.ZeroBlocks, st.BlocksChecked)
	}
	ext, _ := dst.Allocated(bg)
	if len(ext) != 1 || ext[0] != (Extent{Off: 5 * bs, Len: bs}) {
		t.Fatalf("target allocation %v; want only block 5", ext)
	}
}

// TestSizeMismatchWritesNothing: different sizes are refused before any
// journal or byte is written.
func TestSizeMismatchWritesNothing(t *testing.T) {
	src, dst := enginetest.NewMemDisk(1<<20, 0), enginetest.NewMemDisk(2<<20, 0)
	mustWrite(src, []byte{1}, 0)
	dir := filepath.Join(t.TempDir(), "j")
	_, err := Sync(bg, src, dst, Options{JournalDir: dir})
	if !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("err %v, want ErrSizeMismatch", err)
	}
	if ext, _ := dst.Allocated(bg); len(ext) != 0 {
		t.Fatal("target was written")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("journal directory was created")
	}
}

// TestOptionsValidation: bad options are refused with a reason.
func TestOptionsValidation(t *testing.T) {
	d := enginetest.NewMemDisk(1<<20, 0)
	for _, o := range []Options{
		{}, // neither JournalDir nor NoJournal
		{JournalDir: "x", NoJournal: true},
		{NoJournal: true, BlockSize: 3000},
		{NoJournal: true, BlockSize: 1 << 12 << 20},
		{NoJournal: true, Threads: 33},
		{NoJournal: true, Threads: -1},
		{NoJournal: true, Mode: "fast"},
		{NoJournal: true, BlockSize: 32 << 20, MemoryLimit: 64 << 20},
		{NoJournal: true, Mode: Ranges, Ranges: []Extent{{Off: 1 << 20, Len: 1}}},
		{NoJournal: true, BandwidthLimit: -1},
	} {
		if _, err := Sync(bg, d, d, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// TestEmptyDisk: a zero-byte disk syncs and verifies trivially.
func TestEmptyDisk(t *testing.T) {
	d := enginetest.NewMemDisk(0, 0)
	dir := filepath.Join(t.TempDir(), "j")
	st, err := Sync(bg, d, enginetest.NewMemDisk(0, 0), Options{JournalDir: dir, Verify: true})
	if err != nil || st.Blocks != 0 {
		t.Fatalf("%+v %v", st, err)
	}
}

// TestBandwidthLimit: source reads are paced. Only a lower bound is
// checked (a loaded machine can only make the sync slower): 16 MiB at
// 32 MiB/s, less at most a quarter second of burst, takes at least 0.25 s.
func TestBandwidthLimit(t *testing.T) {
	src, dst := changedPair(t, 16<<20, 64<<10, 9)
	start := time.Now()
	st, err := Sync(bg, src, dst, Options{BlockSize: 64 << 10, NoJournal: true, BandwidthLimit: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 250*time.Millisecond || st.BytesReadSource != 16<<20 {
		t.Fatalf("16 MiB at 32 MiB/s took %v (read %d bytes)", took, st.BytesReadSource)
	}
}

// TestSharedBandwidthHoldsForEverySync: two syncs sharing one Bandwidth
// read together at its rate, not each at it. 2 x 8 MiB at 32 MiB/s, less
// a quarter second of burst, takes at least 0.25 s more than one sync
// alone would (each alone: 8 MiB at 32 MiB/s, about 0.25 s).
func TestSharedBandwidthHoldsForEverySync(t *testing.T) {
	bw := NewBandwidth(32 << 20)
	if bw.Rate() != 32<<20 || NewBandwidth(0) != nil {
		t.Fatalf("rate %d", bw.Rate())
	}
	start := time.Now()
	errs := make(chan error, 2)
	for i := range 2 {
		src, dst := changedPair(t, 8<<20, 64<<10, uint64(i))
		go func() {
			// BandwidthLimit is ignored when a shared Bandwidth is given.
			_, err := Sync(bg, src, dst, Options{BlockSize: 64 << 10, NoJournal: true, Bandwidth: bw, BandwidthLimit: 1 << 40})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Fatalf("2 x 8 MiB sharing 32 MiB/s took %v: the cap was not shared", took)
	}
}

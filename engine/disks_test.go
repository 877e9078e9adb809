package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

var bg = context.Background()

// randomDisk builds a disk of regions that are unallocated, allocated
// zeros, or random data.
func randomDisk(rng *rand.Rand, size, chunk int64) *enginetest.MemDisk {
	d := enginetest.NewMemDisk(size, chunk)
	for off := int64(0); off < size; {
		n := min(size-off, 1+rng.Int64N(size/4+1))
		switch rng.IntN(3) {
		case 1:
			mustWrite(d, make([]byte, n), off)
		case 2:
			mustWrite(d, randBytes(rng, n), off)
		}
		off += n
	}
	return d
}

// mutate returns a copy of d with k random changes of every kind the
// engine must handle.
func mutate(rng *rand.Rand, d *enginetest.MemDisk, bs int64, k int) *enginetest.MemDisk {
	s := d.Clone()
	size := s.Size()
	for range k {
		off := rng.Int64N(size)
		switch rng.IntN(6) {
		case 0: // scattered bytes
			mustWrite(s, randBytes(rng, min(1+rng.Int64N(16), size-off)), off)
		case 1: // a whole block
			b := off / bs
			mustWrite(s, randBytes(rng, min(bs, size-b*bs)), b*bs)
		case 2: // allocated zeros
			mustWrite(s, make([]byte, min(1+rng.Int64N(3*bs), size-off)), off)
		case 3: // released range
			if err := s.WriteZeroes(bg, off, min(1+rng.Int64N(3*bs), size-off)); err != nil {
				panic(err)
			}
		case 4: // the tail
			n := min(1+rng.Int64N(bs), size)
			mustWrite(s, randBytes(rng, n), size-n)
		case 5: // a long run of new data
			mustWrite(s, randBytes(rng, min(1+rng.Int64N(4*bs), size-off)), off)
		}
	}
	return s
}

func mustWrite(d *enginetest.MemDisk, p []byte, off int64) {
	if err := d.WriteAt(bg, p, off); err != nil {
		panic(err)
	}
}

func randBytes(rng *rand.Rand, n int64) []byte {
	p := make([]byte, n+8)
	for i := int64(0); i < n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], rng.Uint64())
	}
	return p[:n]
}

// diffBlocks returns the blocks where a and b differ and their bytes.
func diffBlocks(a, b []byte, bs int64) (blocks []int64, n int64) {
	for off := int64(0); off < int64(len(a)); off += bs {
		end := min(off+bs, int64(len(a)))
		if !bytes.Equal(a[off:end], b[off:end]) {
			blocks = append(blocks, off/bs)
			n += end - off
		}
	}
	return blocks, n
}

// checkAllocation fails when the sync allocated a target chunk that no
// non-zero source block needed (the engine writes whole blocks, so a
// chunk inside a non-zero block may be allocated for its zeros).
func checkAllocation(t *testing.T, name string, before, after *enginetest.MemDisk, src []byte, bs int64) {
	t.Helper()
	chunk, size := after.Chunk(), after.Size()
	for c := int64(0); c*chunk < size; c++ {
		if !after.AllocatedChunk(c) || before.AllocatedChunk(c) {
			continue
		}
		off := c * chunk
		end := min(off+chunk, size)
		boff := off / bs * bs
		bend := min((end+bs-1)/bs*bs, size)
		if isAllZero(src[boff:bend]) {
			t.Fatalf("%s: target chunk %d (bytes %d-%d) was allocated for zero blocks", name, c, off, end)
		}
	}
}

func isAllZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// hasherSource gives a MemDisk the BlockHasher of the Azure-side agent and
// counts what it was asked.
type hasherSource struct {
	*enginetest.MemDisk
	hashed atomic.Int64
}

func (h *hasherSource) HashBlocks(ctx context.Context, bs int64, blocks []int64) ([]Sum, error) {
	out := make([]Sum, len(blocks))
	for i, b := range blocks {
		p := make([]byte, min(bs, h.Size()-b*bs))
		if err := h.ReadAt(ctx, p, b*bs); err != nil {
			return nil, err
		}
		out[i] = HashBlock(p)
	}
	h.hashed.Add(int64(len(blocks)))
	return out, nil
}

// plainTarget hides MemDisk's Zeroer.
type plainTarget struct{ Target }

// slowTarget delays every write, so tests can stop a sync in the middle.
type slowTarget struct {
	*enginetest.MemDisk
	delay  time.Duration
	writes atomic.Int64
}

func (s *slowTarget) WriteAt(ctx context.Context, p []byte, off int64) error {
	s.writes.Add(1)
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.MemDisk.WriteAt(ctx, p, off)
}

// lyingTarget acknowledges writes at one offset without storing them.
type lyingTarget struct {
	*enginetest.MemDisk
	drop int64
}

func (l *lyingTarget) WriteAt(ctx context.Context, p []byte, off int64) error {
	if off == l.drop {
		return nil
	}
	return l.MemDisk.WriteAt(ctx, p, off)
}

// changingSource returns other bytes for one block from the second read
// of it on, as a live disk under a sync would.
type changingSource struct {
	*enginetest.MemDisk
	at    int64
	mu    sync.Mutex
	reads int
}

func (c *changingSource) ReadAt(ctx context.Context, p []byte, off int64) error {
	if err := c.MemDisk.ReadAt(ctx, p, off); err != nil {
		return err
	}
	if off == c.at {
		c.mu.Lock()
		c.reads++
		if c.reads > 1 {
			p[0] ^= 0xff
		}
		c.mu.Unlock()
	}
	return nil
}

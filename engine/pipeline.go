package engine

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/failback/failback/internal/pace"
)

// run is the state shared by the stages of one Sync (or Verify).
type run struct {
	cfg    config
	src    Source
	dst    Target
	zeroer Zeroer // nil when the target has none
	// keepPlace: a journaled sync onto a Deallocator zeroes blocks in
	// place rather than releasing them, so that a rollback puts their old
	// bytes back where they were and the file ends up as it was (a VHDX
	// block released and written again would move to the file's end).
	keepPlace bool
	hasher    BlockHasher // nil unless the source has one
	// srcView and dstView lend blocks without a copy (nil: read them).
	srcView, dstView Viewer
	ctr              counters
	lim              *pace.Pacer // nil: no bandwidth limit
	pool             chan *slot  // the fixed memory budget: cfg.slots slots

	job   *job     // nil without a journal
	from  int64    // first block this run may touch (the resume watermark)
	track *tracker // nil outside the transfer
	sums  *sumsWriter

	srcAlloc, dstAlloc []Extent
	zeros              []byte
	zsum, ztail        Sum // sums of an all-zero block and all-zero tail block

	// flushMu orders target flushes (exclusive) after the writes they must
	// cover (shared): a checkpoint flushes with no write in progress.
	flushMu sync.RWMutex
}

// slot holds one block of each side; slots are allocated on first use and
// recycled, so memory never exceeds cfg.slots*2*BlockSize.
type slot struct{ src, dst []byte }

// item is one block handed to the readers.
type item struct {
	block, off, n      int64
	srcAlloc, dstAlloc bool
	srcSum             Sum // from the source's BlockHasher
	hasSum             bool
}

func newRun(cfg config, src Source, dst Target) *run {
	r := &run{cfg: cfg, src: src, dst: dst, lim: cfg.pacer()}
	r.zeroer, _ = dst.(Zeroer)
	_, dealloc := dst.(Deallocator)
	r.keepPlace = dealloc && !cfg.NoJournal
	r.hasher, _ = src.(BlockHasher)
	r.srcView, _ = src.(Viewer)
	r.dstView, _ = dst.(Viewer)
	r.pool = make(chan *slot, cfg.slots)
	for range cfg.slots {
		r.pool <- &slot{}
	}
	r.zeros = make([]byte, cfg.BlockSize)
	r.zsum = HashBlock(r.zeros)
	r.ztail = HashBlock(r.zeros[:cfg.size%cfg.BlockSize])
	r.ctr.setPhase(PhasePrepare, 0, 0)
	r.ctr.blocksTotal.Store(cfg.scope)
	return r
}

func (r *run) zeroSum(n int64) Sum {
	if n == r.cfg.BlockSize {
		return r.zsum
	}
	return r.ztail
}

func (r *run) isZero(p []byte) bool { return bytes.Equal(p, r.zeros[:len(p)]) }

func (r *run) getSlot(ctx context.Context) (*slot, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case s := <-r.pool:
		if s.src == nil {
			s.src = make([]byte, r.cfg.BlockSize)
			s.dst = make([]byte, r.cfg.BlockSize)
		}
		return s, nil
	}
}

func (r *run) readSource(ctx context.Context, p []byte, off int64) error {
	if err := r.lim.Wait(ctx, int64(len(p))); err != nil {
		return err
	}
	if err := r.src.ReadAt(ctx, p, off); err != nil {
		return fmt.Errorf("read source at offset %d: %w", off, err)
	}
	r.ctr.bytesReadSource.Add(int64(len(p)))
	return nil
}

func (r *run) readTarget(ctx context.Context, p []byte, off int64) error {
	if err := r.dst.ReadAt(ctx, p, off); err != nil {
		return fmt.Errorf("read target at offset %d: %w", off, err)
	}
	r.ctr.bytesReadTarget.Add(int64(len(p)))
	return nil
}

// skipFunc accounts for blocks [b, nb) (bytes long) that are unallocated
// on both sides, hence equal without reading.
type skipFunc func(b, nb, bytes int64)

// workFunc handles one block with slot s and gives s back to r.pool,
// directly or through a later stage.
type workFunc func(ctx context.Context, it item, s *slot) error

// scan runs the dispatcher, the batched source hashing (when the source
// has a BlockHasher and hashed says to use it) and cfg.Threads readers
// over the scope blocks from block from on. It returns the first error.
func (r *run) scan(ctx context.Context, from int64, tr *tracker, hashed bool, skip skipFunc, work workFunc) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	spawn := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				cancel(err)
			}
		}()
	}
	useHasher := hashed && r.hasher != nil
	items := make(chan item, r.cfg.Threads)
	if useHasher {
		items = make(chan item, hashBatch)
	}
	spawn(func() error { return r.dispatch(ctx, from, tr, skip, items) })
	in := (<-chan item)(items)
	if useHasher {
		h := make(chan item, r.cfg.Threads)
		spawn(func() error { return r.hashBatches(ctx, items, h) })
		in = h
	}
	for range r.cfg.Threads {
		spawn(func() error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case it, ok := <-in:
					if !ok {
						return nil
					}
					s, err := r.getSlot(ctx)
					if err != nil {
						return nil
					}
					if err := work(ctx, it, s); err != nil {
						return err
					}
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// dispatch hands the scope blocks from block from on to out, in order.
// Runs of blocks unallocated on both sides are settled here in one step,
// so a mostly empty 8 TiB disk costs time per allocated range, not per
// block.
func (r *run) dispatch(ctx context.Context, from int64, tr *tracker, skip skipFunc, out chan<- item) error {
	defer close(out)
	bs, size := r.cfg.BlockSize, r.cfg.size
	sc, dc := newCursor(r.srcAlloc), newCursor(r.dstAlloc)
	for _, run := range r.cfg.runs {
		for b := max(run.first, from); b < run.end; {
			if err := ctx.Err(); err != nil {
				return err
			}
			off := b * bs
			end := min(off+bs, size)
			sa, da := sc.any(off, end), dc.any(off, end)
			if !sa && !da {
				nxt := min(sc.next(off, size), dc.next(off, size))
				nb := min(max(nxt/bs, b+1), run.end)
				skip(b, nb, min(nb*bs, size)-off)
				if tr != nil {
					tr.skipTo(nb)
				}
				b = nb
				continue
			}
			if tr != nil {
				tr.start(b)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case out <- item{block: b, off: off, n: end - off, srcAlloc: sa, dstAlloc: da}:
			}
			b++
		}
	}
	if tr != nil {
		tr.skipTo(r.cfg.nblocks)
	}
	return nil
}

// hashBatch is how many block sums one BlockHasher call asks for: enough to
// hide a WAN round trip behind the work of the previous batch.
const hashBatch = 256

// hashBatches asks the source's BlockHasher for the sums of the allocated
// source blocks of each batch of items, then passes the items on.
func (r *run) hashBatches(ctx context.Context, in <-chan item, out chan<- item) error {
	defer close(out)
	batch := make([]item, 0, hashBatch)
	idx := make([]int64, 0, hashBatch)
	for {
		batch, idx = batch[:0], idx[:0]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case it, ok := <-in:
			if !ok {
				return nil
			}
			batch = append(batch, it)
		}
	fill:
		for len(batch) < hashBatch {
			select {
			case it, ok := <-in:
				if !ok {
					break fill
				}
				batch = append(batch, it)
			default:
				break fill
			}
		}
		for _, it := range batch {
			if it.srcAlloc {
				idx = append(idx, it.block)
			}
		}
		if len(idx) > 0 {
			sums, err := r.hasher.HashBlocks(ctx, r.cfg.BlockSize, idx)
			if err != nil {
				return fmt.Errorf("source block checksums: %w", err)
			}
			if len(sums) != len(idx) {
				return fmt.Errorf("source block checksums: asked for %d, got %d", len(idx), len(sums))
			}
			k := 0
			for i := range batch {
				if batch[i].srcAlloc {
					batch[i].srcSum, batch[i].hasSum = sums[k], true
					k++
				}
			}
		}
		for _, it := range batch {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case out <- it:
			}
		}
	}
}

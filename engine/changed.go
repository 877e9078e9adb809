package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// ChangedOptions configure ChangedBlocks.
type ChangedOptions struct {
	Threads          int
	MemoryLimit      int64
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// ChangedBlocks compares disk with the sums file a Sync wrote for it (see
// Options.SumsFile) and returns the byte ranges of the blocks whose
// content changed since, merged and sorted: the ranges a reverse
// replication must send, found without reading the other side. Sums are
// streamed from the file, so memory does not grow with the disk; only the
// result grows, with the number of changed runs.
func ChangedBlocks(ctx context.Context, disk Source, sumsFile string, o ChangedOptions) ([]Extent, error) {
	f, bs, size, err := readSumsHeader(sumsFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if disk.Size() != size {
		return nil, fmt.Errorf("%s describes a %d-byte disk, this one has %d bytes: %w", sumsFile, size, disk.Size(), ErrSizeMismatch)
	}
	cfg, err := Options{BlockSize: bs, Threads: o.Threads, MemoryLimit: o.MemoryLimit, NoJournal: true,
		Progress: o.Progress, ProgressInterval: o.ProgressInterval}.resolve(size, size)
	if err != nil {
		return nil, err
	}
	r := newRun(cfg, disk, nil)
	r.ctr.setPhase(PhaseCompare, 0, size)
	smp := startSampler(&r.ctr, cfg.Progress, cfg.ProgressInterval)
	changed, err := r.changed(ctx, f)
	smp.finish(err == nil)
	if err != nil {
		return nil, err
	}
	slices.Sort(changed)
	return blocksToExtents(changed, bs, size), nil
}

type wantSum struct {
	it  item
	sum Sum
}

func (r *run) changed(ctx context.Context, f io.ReaderAt) ([]int64, error) {
	var err error
	if r.srcAlloc, err = allocated(ctx, r.src.Allocated, r.cfg.size, "disk"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu      sync.Mutex
		changed []int64
		wg      sync.WaitGroup
	)
	add := func(b int64) {
		mu.Lock()
		changed = append(changed, b)
		mu.Unlock()
	}
	items := make(chan wantSum, r.cfg.Threads)
	for range r.cfg.Threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range items {
				if ctx.Err() != nil {
					continue
				}
				s, err := r.getSlot(ctx)
				if err != nil {
					continue
				}
				p := s.src[:w.it.n]
				err = r.readSource(ctx, p, w.it.off)
				// Hash before the buffer goes back: the next reader
				// fills it at once.
				differs := err == nil && HashBlock(p) != w.sum
				r.pool <- s
				if err != nil {
					cancel(err)
					continue
				}
				if differs {
					add(w.it.block)
				}
				r.ctr.blocksChecked.Add(1)
				r.ctr.phaseDone.Add(w.it.n)
			}
		}()
	}
	rd := bufio.NewReaderSize(io.NewSectionReader(f, sumsHeaderSize, 16*r.cfg.nblocks), 1<<20)
	cur := newCursor(r.srcAlloc)
	var feedErr error
	for b := int64(0); b < r.cfg.nblocks && ctx.Err() == nil; b++ {
		var w wantSum
		if _, feedErr = io.ReadFull(rd, w.sum[:]); feedErr != nil {
			break
		}
		off := b * r.cfg.BlockSize
		n := r.cfg.blockLen(b)
		if !cur.any(off, off+n) {
			if w.sum != r.zeroSum(n) {
				add(b)
			}
			r.ctr.blocksChecked.Add(1)
			r.ctr.phaseDone.Add(n)
			continue
		}
		w.it = item{block: b, off: off, n: n, srcAlloc: true}
		select {
		case items <- w:
		case <-ctx.Done():
		}
	}
	close(items)
	wg.Wait()
	if feedErr != nil {
		return nil, fmt.Errorf("read block checksum file: %w", feedErr)
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return changed, nil
}

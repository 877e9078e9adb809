package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrMismatch marks a target that does not hold the source's bytes after a
// sync: a device that lost writes, or a source that changed under the
// sync. Sync again (from a snapshot) or roll back.
var ErrMismatch = errors.New("target differs from source")

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// BlockSize, Threads and MemoryLimit as in Options.
	BlockSize   int64
	Threads     int
	MemoryLimit int64
	// Ranges limits the comparison to the blocks they touch; nil compares
	// the whole disk.
	Ranges           []Extent
	BandwidthLimit   int64
	Bandwidth        *Bandwidth // shared cap, as Options.Bandwidth
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// Verify compares dst with src block by block (through the source's
// BlockHasher when it has one) and returns ErrMismatch, naming the first
// differing block found, if they differ anywhere.
func Verify(ctx context.Context, src Source, dst Target, o VerifyOptions) (Counters, error) {
	opts := Options{Mode: Delta, BlockSize: o.BlockSize, Threads: o.Threads, MemoryLimit: o.MemoryLimit,
		NoJournal: true, BandwidthLimit: o.BandwidthLimit, Bandwidth: o.Bandwidth, Progress: o.Progress, ProgressInterval: o.ProgressInterval}
	if o.Ranges != nil {
		opts.Mode, opts.Ranges = Ranges, o.Ranges
	}
	cfg, err := opts.resolve(src.Size(), dst.Size())
	if err != nil {
		return Counters{}, err
	}
	r := newRun(cfg, src, dst)
	smp := startSampler(&r.ctr, cfg.Progress, cfg.ProgressInterval)
	r.srcAlloc, err = allocated(ctx, src.Allocated, cfg.size, "source")
	if err == nil {
		err = r.verify(ctx)
	}
	smp.finish(err == nil)
	return r.ctr.snapshot(), err
}

// verify compares the scope of r (the blocks of the sync) on both sides.
// Source allocations are those of the sync; the target's are listed anew.
func (r *run) verify(ctx context.Context) (err error) {
	if r.dstAlloc, err = allocated(ctx, r.dst.Allocated, r.cfg.size, "target"); err != nil {
		return err
	}
	_, total := r.cfg.scopeBelow(r.cfg.nblocks)
	r.ctr.setPhase(PhaseVerify, 0, total)
	skip := func(b, nb, n int64) {
		r.ctr.blocksVerified.Add(nb - b)
		r.ctr.phaseDone.Add(n)
	}
	return r.scan(ctx, 0, nil, true, skip, r.verifyBlock)
}

func (r *run) verifyBlock(ctx context.Context, it item, s *slot) error {
	defer func() { r.pool <- s }()
	n := it.n
	src, dst := s.src[:n], s.dst[:n]
	if it.dstAlloc {
		if err := r.readTarget(ctx, dst, it.off); err != nil {
			return err
		}
	}
	var equal bool
	switch {
	case it.hasSum:
		d := r.zeroSum(n)
		if it.dstAlloc {
			d = HashBlock(dst)
		}
		equal = d == it.srcSum
	case !it.srcAlloc:
		equal = !it.dstAlloc || r.isZero(dst)
	default:
		if err := r.readSource(ctx, src, it.off); err != nil {
			return err
		}
		equal = it.dstAlloc && bytes.Equal(src, dst) || !it.dstAlloc && r.isZero(src)
	}
	if !equal {
		return fmt.Errorf("verify: %w at block %d (bytes %d to %d): sync again from a snapshot, or roll back", ErrMismatch, it.block, it.off, it.off+n)
	}
	r.ctr.blocksVerified.Add(1)
	r.ctr.phaseDone.Add(n)
	return nil
}

package engine

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/failback/failback/vdisk"
	"github.com/zeebo/xxh3"
)

// Stats summarise a finished (or failed) Sync.
type Stats struct {
	Counters
	Mode      Mode  `json:"mode"`
	BlockSize int64 `json:"block_size"`
	Size      int64 `json:"size"`
	// Blocks is the number of blocks in the job's scope (all blocks, or
	// those the ranges touch).
	Blocks int64 `json:"blocks"`
	// Resumed says an earlier run of this job left work behind;
	// ResumedBlocks of the scope were finished by it and skipped.
	Resumed       bool          `json:"resumed"`
	ResumedBlocks int64         `json:"resumed_blocks"`
	Verified      bool          `json:"verified"`
	Duration      time.Duration `json:"duration_ns"`
}

// Sync makes dst hold src's bytes, as Options say. With a JournalDir it
// first resumes the job left there, if any; every target block it
// overwrites has its old bytes in the undo journal, durable before the
// overwrite, so Rollback can restore the target at any moment, even after
// a crash. Source and target must have the same size.
//
// Stats are returned with an error too: they say how far the job got.
func Sync(ctx context.Context, src Source, dst Target, o Options) (Stats, error) {
	start := time.Now()
	cfg, err := o.resolve(src.Size(), dst.Size())
	if err != nil {
		return Stats{}, err
	}
	r := newRun(cfg, src, dst)
	if cfg.Mode != Delta {
		r.hasher = nil // ranges and full modes copy; sums of the source are no use
	}
	st := Stats{Mode: cfg.Mode, BlockSize: cfg.BlockSize, Size: cfg.size, Blocks: cfg.scope}
	smp := startSampler(&r.ctr, cfg.Progress, cfg.ProgressInterval)
	err = r.sync(ctx, &st)
	smp.finish(err == nil)
	st.Counters = r.ctr.snapshot()
	st.Duration = time.Since(start)
	return st, err
}

// header is the identity of this job in its journals.
func (r *run) header() jobHeader {
	h := jobHeader{Version: journalVersion, Mode: r.cfg.Mode, BlockSize: r.cfg.BlockSize, Size: r.cfg.size,
		SourceID: r.cfg.SourceID, TargetID: r.cfg.TargetID, Created: time.Now().UTC()}
	if r.cfg.Mode == Ranges {
		d := xxh3.New()
		var b [16]byte
		for _, run := range r.cfg.runs {
			binary.LittleEndian.PutUint64(b[:], uint64(run.first))
			binary.LittleEndian.PutUint64(b[8:], uint64(run.end))
			d.Write(b[:])
		}
		s := d.Sum128().Bytes()
		h.Ranges = hex.EncodeToString(s[:])
	}
	return h
}

func (r *run) sync(ctx context.Context, st *Stats) (err error) {
	from := int64(0)
	if !r.cfg.NoJournal {
		j, err := openJob(r.cfg.JournalDir, r.header())
		if err != nil {
			return err
		}
		defer j.close()
		r.job, from = j, j.watermark
		r.from = from
		st.Resumed = j.resumed && from > 0
	}
	if r.cfg.SumsFile != "" {
		if r.sums, err = openSums(r.cfg.SumsFile, r.cfg.BlockSize, r.cfg.size, r.job != nil && r.job.resumed); err != nil {
			return err
		}
		defer r.sums.close()
	}
	if r.srcAlloc, err = allocated(ctx, r.src.Allocated, r.cfg.size, "source"); err != nil {
		return err
	}
	if r.dstAlloc, err = allocated(ctx, r.dst.Allocated, r.cfg.size, "target"); err != nil {
		return err
	}
	doneBlocks, doneBytes := r.cfg.scopeBelow(from)
	st.ResumedBlocks = doneBlocks
	phase := PhaseCopy
	if r.cfg.Mode == Delta {
		phase = PhaseCompare
	}
	_, total := r.cfg.scopeBelow(r.cfg.nblocks)
	r.ctr.setPhase(phase, doneBytes, total)
	r.track = newTracker(from)
	err = r.transfer(ctx, from)
	if r.job != nil {
		// Record what finished, also after a cancel or an error, so a
		// resume does not redo it; the flush must not be cancelled.
		if cerr := r.checkpoint(context.WithoutCancel(ctx)); cerr != nil && !sameCause(err, cerr) {
			err = errors.Join(err, cerr)
		}
	} else if err == nil {
		if ferr := r.dst.Flush(ctx); ferr != nil {
			return fmt.Errorf("flush target: %w", ferr)
		}
	}
	if err != nil {
		return err
	}
	if r.cfg.Verify {
		if err := r.verify(ctx); err != nil {
			return err
		}
		st.Verified = true
	}
	if r.sums != nil {
		return r.finishSums(ctx)
	}
	return nil
}

// allocated fetches and normalises an allocation list.
func allocated(ctx context.Context, f func(context.Context) ([]Extent, error), size int64, side string) ([]Extent, error) {
	ext, err := f(ctx)
	if err != nil {
		return nil, fmt.Errorf("list allocated ranges of the %s: %w", side, err)
	}
	return vdisk.NormalizeExtents(ext, size), nil
}

// scopeBelow counts the scope's blocks and bytes below block b.
func (c *config) scopeBelow(b int64) (blocks, byteCount int64) {
	for _, run := range c.runs {
		end := min(run.end, b)
		if end <= run.first {
			continue
		}
		blocks += end - run.first
		byteCount += min(end*c.BlockSize, c.size) - run.first*c.BlockSize
	}
	return blocks, byteCount
}

// pending is a block that differs and is on its way to the target.
type pending struct {
	it      item
	s       *slot
	srcZero bool // the source block is zero: zero the target block
	oldZero bool // the target block was zero: its undo record has no bytes
	sum     Sum  // the block's final sum, when hasSum
	hasSum  bool
}

// transfer runs readers and writers over the scope from block from on,
// with a checkpointer recording progress in the resume journal.
func (r *run) transfer(ctx context.Context, from int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	writes := make(chan pending, r.cfg.slots)
	var wg sync.WaitGroup
	for range r.cfg.Threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range writes {
				if ctx.Err() == nil {
					if err := r.write(ctx, p); err != nil {
						cancel(err)
					}
				}
				r.pool <- p.s
			}
		}()
	}
	stopCk := r.startCheckpointer(ctx, cancel)
	err := r.scan(ctx, from, r.track, true, r.skipEqual, func(ctx context.Context, it item, s *slot) error {
		p, differs, err := r.check(ctx, it, s)
		if err != nil || !differs {
			r.pool <- s
			if err == nil {
				err = r.finished(p)
			}
			return err
		}
		writes <- p // never blocks: at most cfg.slots are outstanding
		return nil
	})
	close(writes)
	wg.Wait()
	stopCk()
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	return err
}

func (r *run) skipEqual(b, nb, n int64) {
	r.ctr.blocksChecked.Add(nb - b)
	r.ctr.zeroBlocks.Add(nb - b)
	r.ctr.bytesChecked.Add(n)
	r.ctr.phaseDone.Add(n)
}

// write journals the old block (durably), then overwrites it.
func (r *run) write(ctx context.Context, p pending) error {
	it := p.it
	if r.job != nil {
		if err := r.journal(p); err != nil {
			return fmt.Errorf("%w (check free space in %s)", err, r.job.dir)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.flushMu.RLock()
	var err error
	switch {
	case p.srcZero && r.zeroer != nil && !r.keepPlace:
		err = r.zeroer.WriteZeroes(ctx, it.off, it.n)
		r.ctr.bytesZeroed.Add(it.n)
	case p.srcZero && r.keepPlace:
		// Only the parts that hold space: the rest reads as zeros already.
		for _, e := range intersect(r.dstAlloc, it.off, it.off+it.n) {
			if err = r.dst.WriteAt(ctx, r.zeros[:e.Len], e.Off); err != nil {
				break
			}
		}
		r.ctr.bytesZeroed.Add(it.n)
	case p.srcZero:
		err = r.dst.WriteAt(ctx, r.zeros[:it.n], it.off)
		r.ctr.bytesWritten.Add(it.n)
	default:
		err = r.dst.WriteAt(ctx, p.s.src[:it.n], it.off)
		r.ctr.bytesWritten.Add(it.n)
	}
	r.flushMu.RUnlock()
	if err != nil {
		return fmt.Errorf("write target at offset %d: %w", it.off, err)
	}
	r.ctr.blocksDiffered.Add(1)
	r.ctr.bytesTransferred.Add(it.n)
	return r.finished(p)
}

// journal saves the target block's old state in the undo journal, durably,
// unless an earlier record already has it.
func (r *run) journal(p pending) error {
	it, x := p.it, r.job.index
	var seq uint64
	var err error
	switch {
	case p.oldZero && !it.dstAlloc:
		first, end := gapAround(r.dstAlloc, it.block, r.cfg.BlockSize, r.cfg.size)
		seq, err = x.journalZeroRun(r.job.undo, it.block, r.from, first, end)
	case x.has(it.block):
		return nil
	case p.oldZero:
		seq, err = r.job.undo.add(recZero, it.block, it.block+1, nil)
	default:
		seq, err = r.job.undo.add(recData, it.block, it.block+1, p.s.dst[:it.n])
		r.ctr.undoBytes.Add(it.n)
	}
	if err != nil {
		return err
	}
	return r.job.undo.durable(seq)
}

// finished accounts for a settled block.
func (r *run) finished(p pending) error {
	n := p.it.n
	r.ctr.blocksChecked.Add(1)
	r.ctr.bytesChecked.Add(n)
	if p.srcZero {
		r.ctr.zeroBlocks.Add(1)
	}
	if r.sums != nil && p.hasSum {
		if err := r.sums.put(p.it.block, p.sum); err != nil {
			return err
		}
	}
	r.track.finish(p.it.block)
	r.ctr.phaseDone.Add(n)
	return nil
}

// startCheckpointer records finished blocks every CheckpointInterval, or
// less often when target flushes are slow: writes wait while the target
// flushes, so the wait between checkpoints is at least checkpointRatio
// times the last flush, keeping those stalls a small part of the time.
func (r *run) startCheckpointer(ctx context.Context, fail context.CancelCauseFunc) (stop func()) {
	if r.job == nil {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		wait := r.cfg.CheckpointInterval
		for {
			t := time.NewTimer(wait)
			select {
			case <-quit:
				t.Stop()
				return
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			start := time.Now()
			if err := r.checkpoint(ctx); err != nil {
				fail(err)
				return
			}
			wait = max(r.cfg.CheckpointInterval, checkpointRatio*time.Since(start))
		}
	}()
	return func() { close(quit); <-done }
}

// checkpointRatio is the least ratio of time between checkpoints to the
// time the last one took.
const checkpointRatio = 8

// checkpoint flushes the target, then records the watermark: the resume
// journal never claims a block the target could still lose.
func (r *run) checkpoint(ctx context.Context) error {
	w := r.track.watermark()
	if w <= r.job.watermark && !r.job.undo.hasPending() {
		return nil
	}
	r.flushMu.Lock()
	err := r.dst.Flush(ctx)
	r.flushMu.Unlock()
	if err != nil {
		return fmt.Errorf("flush target: %w", err)
	}
	return r.job.checkpoint(w)
}

// sameCause reports whether b fails for the system reason a already gives
// (the same errno: a full volume fails the last checkpoint's flush too),
// so that the reason is said once.
func sameCause(a, b error) bool {
	var ea, eb syscall.Errno
	return errors.As(a, &ea) && errors.As(b, &eb) && ea == eb
}

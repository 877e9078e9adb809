package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ErrWrongTarget: a journal is refused because it was written for another
// target (another identity or size).
var ErrWrongTarget = errors.New("journal belongs to another target")

// RollbackOptions configure Rollback.
type RollbackOptions struct {
	// TargetID must equal the Options.TargetID the sync recorded.
	TargetID         string
	Progress         func(Progress)
	ProgressInterval time.Duration
	// AcceptTornTail accepts a format-1 journal (written by an earlier
	// failback) that ends in bytes that are not a record, as the torn tail
	// of a crash. That format cannot tell such a tail from damage, so
	// without it the rollback restores what it can read and refuses to
	// call the target restored (a *JournalDamage with Legacy set).
	AcceptTornTail bool
}

// RollbackStats say what a rollback restored.
type RollbackStats struct {
	// Blocks restored, BytesRestored of old data written back,
	// BlocksZeroed restored to zeros (they were unallocated or zero).
	Blocks        int64         `json:"blocks"`
	BytesRestored int64         `json:"bytes_restored"`
	BlocksZeroed  int64         `json:"blocks_zeroed"`
	Duration      time.Duration `json:"duration_ns"`
}

// Rollback restores dst, byte for byte, to what it held before the sync
// whose journal is in dir began, then deletes the journal. Blocks that
// were unallocated before the sync are unallocated again, and a target
// that is a Deallocator gives their space back. Once it starts, the job
// can no longer resume; a rollback interrupted at any point (cancel,
// crash) is finished by running Rollback again, which rewrites the same
// old bytes. To undo several passes over one disk (delta, then ranges),
// roll back their journals newest first, and stop at the first that
// fails. Roll back before the target is used (the VM started): rollback
// writes the saved blocks over whatever is there.
//
// A damaged journal is never a silent partial rollback: Rollback restores
// every block whose record it can read, then returns a *JournalDamage
// (ErrRollbackIncomplete) naming the blocks it could not restore, and
// keeps the journal.
func Rollback(ctx context.Context, dir string, dst Target, o RollbackOptions) (RollbackStats, error) {
	start := time.Now()
	var st RollbackStats
	if !exists(dir) {
		return st, fmt.Errorf("%s: %w", dir, ErrNoJournal)
	}
	lockf, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return st, err
	}
	defer lockf.Close()
	marker, upath := filepath.Join(dir, rollbackName), filepath.Join(dir, undoName)
	if !exists(upath) {
		if exists(marker) {
			// An earlier rollback restored everything and was removing files.
			return st, removeJournal(dir, resumeName, rollbackName)
		}
		return st, fmt.Errorf("%s: %w (nothing to roll back)", dir, ErrNoJournal)
	}
	jf, err := openJournalFiles(dir, false)
	if err != nil {
		return st, err
	}
	defer jf.close()
	h := jf.h
	if h.TargetID != o.TargetID {
		return st, fmt.Errorf("%s: %w: it was written for %q, not %q", dir, ErrWrongTarget, h.TargetID, o.TargetID)
	}
	if h.Size != dst.Size() {
		return st, fmt.Errorf("%s: %w: it was written for a %d-byte disk, this one has %d bytes", dir, ErrWrongTarget, h.Size, dst.Size())
	}
	if !exists(marker) {
		// From here on the target may be partly restored: no resume.
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return st, err
		}
		if err := syncDir(dir); err != nil {
			return st, err
		}
	}
	var ctr counters
	ctr.setPhase(PhaseRollback, 0, jf.undoSize-jf.off)
	smp := startSampler(&ctr, o.Progress, o.ProgressInterval)
	rb := &restorer{dst: dst, h: h, ctr: &ctr, st: &st}
	rb.dealloc, _ = dst.(Deallocator)
	rb.zeroer, _ = dst.(Zeroer)
	var damage *JournalDamage
	if rb.alloc, err = allocated(ctx, dst.Allocated, h.Size, "target"); err == nil {
		if h.Version == 1 {
			damage, err = rb.restoreV1(ctx, jf, o.AcceptTornTail)
		} else {
			damage, err = rb.restoreV2(ctx, jf)
		}
	}
	if err == nil {
		err = rb.finish(ctx)
	}
	switch {
	case err == nil && damage != nil:
		damage.Dir, damage.Target, damage.RolledBack = dir, targetName(o.TargetID), true
		err = damage
	case err == nil:
		// Resume first: a lone undo journal with the marker still means
		// "roll back again", never "resume".
		err = removeJournal(dir, resumeName, undoName, rollbackName)
	}
	smp.finish(err == nil)
	st.Duration = time.Since(start)
	return st, err
}

func targetName(id string) string {
	if id == "" {
		return "the target"
	}
	return id
}

// restorer writes undo records back onto the target.
type restorer struct {
	dst      Target
	h        jobHeader
	dealloc  Deallocator // nil when the target has none
	zeroer   Zeroer      // nil when the target has none
	ctr      *counters
	st       *RollbackStats
	alloc    []Extent   // the target's allocation when the rollback began
	zeros    []byte     // a block of zeros, made on first use
	restored []blockRun // blocks restored, in record order
}

// restoreV2 restores a format-2 journal in two passes: first the records
// without data (blocks that were unallocated or zero), after which a
// Deallocator gives back the space the sync took (a rollback after the
// volume filled up needs no free space), then the blocks' old bytes.
func (rb *restorer) restoreV2(ctx context.Context, jf *journalFiles) (*JournalDamage, error) {
	rs := jf.readResume()
	err := scanUndo(jf.undo, jf.undoSize, jf.off, rb.h, false, func(it undoItem) error {
		if it.bad || it.dataBad || it.rec.kind == recData {
			return nil
		}
		return rb.apply(ctx, it.rec)
	})
	if err != nil {
		return nil, err
	}
	if rb.dealloc != nil {
		if err := rb.dealloc.Trim(ctx); err != nil {
			return nil, fmt.Errorf("give back the space of blocks that were unallocated: %w", err)
		}
	}
	chk := newUndoCheck(jf.off)
	err = scanUndo(jf.undo, jf.undoSize, jf.off, rb.h, true, func(it undoItem) error {
		chk.add(it)
		switch {
		case !it.bad && !it.dataBad && it.rec.kind == recData:
			return rb.apply(ctx, it.rec)
		case it.bad || it.dataBad:
			rb.ctr.phaseDone.Add(it.rec.size)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	v := chk.verdict(max(rs.records, chk.witness), rs.records)
	if v.ok() {
		return nil, nil
	}
	return damageFor("", "", rb.h, v, rs, rb.restored), nil
}

// restoreV1 restores a format-1 journal in record order. Past damage it
// looks for the next record that checks and goes on from there.
func (rb *restorer) restoreV1(ctx context.Context, jf *journalFiles, acceptTail bool) (*JournalDamage, error) {
	buf := make([]byte, rb.h.BlockSize)
	apply := func(rec undoRec) error { return rb.apply(ctx, rec) }
	var d *JournalDamage
	for off := jf.off; ; {
		end, err := scanV1(jf.undo, off, rb.h, buf, apply)
		if err != nil || end >= jf.undoSize {
			return d, err
		}
		next := v1NextRecord(jf.undo, end+1, jf.undoSize, rb.h)
		switch {
		case next >= 0 && (d == nil || !d.Midway):
			// Records follow the damage: not a torn tail.
			d = &JournalDamage{BlockSize: rb.h.BlockSize, Legacy: true, Midway: true, TailAt: end}
		case next < 0 && d == nil && !acceptTail:
			d = &JournalDamage{BlockSize: rb.h.BlockSize, Legacy: true, TailAt: end}
		}
		if next < 0 {
			return d, nil
		}
		off = next
	}
}

// apply writes one record back.
func (rb *restorer) apply(ctx context.Context, rec undoRec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	bs, size := rb.h.BlockSize, rb.h.Size
	at := rec.block * bs
	n := min(bs, size-at)
	var err error
	switch rec.kind {
	case recData:
		if int64(len(rec.data)) != n {
			return fmt.Errorf("%w: undo record of block %d holds %d bytes, the block has %d", ErrJournalCorrupt, rec.block, len(rec.data), n)
		}
		err = rb.dst.WriteAt(ctx, rec.data, at)
		rb.st.BytesRestored += n
		rb.ctr.bytesWritten.Add(n)
	case recZero:
		// The block was allocated and zero: write zeros, keeping it
		// allocated as it was.
		if rb.zeros == nil {
			rb.zeros = make([]byte, bs)
		}
		err = rb.dst.WriteAt(ctx, rb.zeros[:n], at)
		rb.st.BlocksZeroed++
		rb.ctr.bytesZeroed.Add(n)
	case recZeroRange:
		// The blocks were unallocated: only those the sync allocated
		// since need releasing.
		end := min(rec.end*bs, size)
		for _, e := range intersect(rb.alloc, at, end) {
			if err = rb.release(ctx, e.Off, e.Len); err != nil {
				break
			}
			rb.ctr.bytesZeroed.Add(e.Len)
		}
		rb.st.BlocksZeroed += rec.end - rec.block
	}
	if err != nil {
		return fmt.Errorf("restore block %d: %w", rec.block, err)
	}
	rb.st.Blocks += rec.end - rec.block
	rb.ctr.blocksChecked.Add(rec.end - rec.block)
	rb.ctr.phaseDone.Add(rec.size)
	if n := len(rb.restored); n > 0 && rb.restored[n-1].end == rec.block {
		rb.restored[n-1].end = rec.end
	} else {
		rb.restored = append(rb.restored, blockRun{rec.block, rec.end})
	}
	return nil
}

// release makes [off, off+n) unallocated again, as it was before the
// sync: deallocated where the target can, else zeroed.
func (rb *restorer) release(ctx context.Context, off, n int64) error {
	switch {
	case rb.dealloc != nil:
		return rb.dealloc.Deallocate(ctx, off, n)
	case rb.zeroer != nil:
		return rb.zeroer.WriteZeroes(ctx, off, n)
	}
	if rb.zeros == nil {
		rb.zeros = make([]byte, rb.h.BlockSize)
	}
	for end := off + n; off < end; off += rb.h.BlockSize {
		if err := rb.dst.WriteAt(ctx, rb.zeros[:min(rb.h.BlockSize, end-off)], off); err != nil {
			return err
		}
	}
	return nil
}

// finish makes the restored target durable, giving space back where it can.
func (rb *restorer) finish(ctx context.Context) error {
	if rb.dealloc != nil {
		if err := rb.dealloc.Trim(ctx); err != nil {
			return fmt.Errorf("flush target: %w", err)
		}
		return nil
	}
	if err := rb.dst.Flush(ctx); err != nil {
		return fmt.Errorf("flush target: %w", err)
	}
	return nil
}

// intersect returns the parts of ext (sorted, merged) inside [off, end).
func intersect(ext []Extent, off, end int64) []Extent {
	i := sort.Search(len(ext), func(i int) bool { return ext[i].End() > off })
	var out []Extent
	for ; i < len(ext) && ext[i].Off < end; i++ {
		a, b := max(ext[i].Off, off), min(ext[i].End(), end)
		out = append(out, Extent{Off: a, Len: b - a})
	}
	return out
}

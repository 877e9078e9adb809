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
// whose journal is in dir began, then deletes the journal. Once it starts,
// the job can no longer resume; a rollback interrupted at any point
// (cancel, crash) is finished by running Rollback again, which rewrites
// the same old bytes. To undo several passes over one disk (delta, then
// ranges), roll back their journals newest first. Roll back before the
// target is used (the VM started): rollback writes the saved blocks over
// whatever is there.
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
	f, err := os.Open(upath)
	if err != nil {
		return st, err
	}
	defer f.Close()
	h, off, err := readHeader(f, undoMagic)
	if err != nil {
		return st, err
	}
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
	fi, err := f.Stat()
	if err != nil {
		return st, err
	}
	ctr.setPhase(PhaseRollback, 0, fi.Size()-off)
	smp := startSampler(&ctr, o.Progress, o.ProgressInterval)
	err = restore(ctx, f, off, h, dst, &ctr, &st)
	if err == nil {
		if err = dst.Flush(ctx); err != nil {
			err = fmt.Errorf("flush target: %w", err)
		}
	}
	if err == nil {
		// Resume first: a lone undo journal with the marker still means
		// "roll back again", never "resume".
		err = removeJournal(dir, resumeName, undoName, rollbackName)
	}
	smp.finish(err == nil)
	st.Duration = time.Since(start)
	return st, err
}

func restore(ctx context.Context, f *os.File, off int64, h jobHeader, dst Target, ctr *counters, st *RollbackStats) error {
	zeroer, _ := dst.(Zeroer)
	buf := make([]byte, h.BlockSize)
	var zeros []byte
	size := dst.Size()
	zero := func(at, n int64) error {
		if zeroer != nil {
			return zeroer.WriteZeroes(ctx, at, n)
		}
		if zeros == nil {
			zeros = make([]byte, h.BlockSize)
		}
		for end := at + n; at < end; at += h.BlockSize {
			if err := dst.WriteAt(ctx, zeros[:min(h.BlockSize, end-at)], at); err != nil {
				return err
			}
		}
		return nil
	}
	// Blocks of zero-range records were unallocated: only those the sync
	// allocated since need zeroing.
	alloc, err := allocated(ctx, dst.Allocated, size, "target")
	if err != nil {
		return err
	}
	_, err = scanUndo(f, off, h, buf, func(rec undoRec) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		at := rec.block * h.BlockSize
		n := min(h.BlockSize, size-at)
		var err error
		switch rec.kind {
		case recData:
			if int64(len(rec.data)) != n {
				return fmt.Errorf("%w: undo record of block %d holds %d bytes, the block has %d", ErrJournalCorrupt, rec.block, len(rec.data), n)
			}
			err = dst.WriteAt(ctx, rec.data, at)
			st.BytesRestored += n
			ctr.bytesWritten.Add(n)
		case recZero:
			err = zero(at, n)
			st.BlocksZeroed++
			ctr.bytesZeroed.Add(n)
		case recZeroRange:
			end := min(rec.end*h.BlockSize, size)
			for _, e := range intersect(alloc, at, end) {
				if err = zero(e.Off, e.Len); err != nil {
					break
				}
				ctr.bytesZeroed.Add(e.Len)
			}
			st.BlocksZeroed += rec.end - rec.block
		}
		if err != nil {
			return fmt.Errorf("restore block %d: %w", rec.block, err)
		}
		st.Blocks += rec.end - rec.block
		ctr.blocksChecked.Add(rec.end - rec.block)
		ctr.phaseDone.Add(rec.size)
		return nil
	})
	return err
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

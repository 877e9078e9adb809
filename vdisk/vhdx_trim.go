package vdisk

import (
	"fmt"
	"os"
)

// Deallocate makes [off, off+n) read as zeros, whole blocks NOT_PRESENT
// (as a block never written is); partial blocks get zeros written if
// they are allocated. A fixed disk keeps its blocks (as WriteZeroes).
func (v *vhdxImage) Deallocate(off, n int64) error {
	if v.fixed {
		return v.WriteZeroes(off, n)
	}
	if err := v.writable(off, n); err != nil {
		return err
	}
	if v.diff != nil {
		return v.zeroDiff(off, n, batNotPresent)
	}
	for done := int64(0); done < n; {
		pos := off + done
		blk := pos >> v.g.blockShift
		in := pos & (v.g.blockSize - 1)
		seg := min(n-done, v.g.blockSize-in)
		if in == 0 && seg == v.g.blockBytes(blk) {
			v.setBlockState(blk, batNotPresent, false)
		} else if err := v.zeroInBlock(blk, in, seg); err != nil {
			return err
		}
		done += seg
	}
	return nil
}

// Trim flushes, then cuts the file after the last present block (or the
// last region), so blocks deallocated at the end of the file give their
// space back. Before the cut, the log is retired (its GUID cleared, once
// the in-place BAT writes are durable): no log entry that a replay could
// apply may describe space past the new end, and the next flush starts a
// new log session. Space freed inside the file stays unused, as always.
func (v *vhdxImage) Trim() error {
	if v.closed.Load() {
		return os.ErrClosed
	}
	if v.readOnly {
		return nil
	}
	v.flushMu.Lock()
	defer v.flushMu.Unlock()
	if err := v.flushLocked(); err != nil || v.fixed {
		return err
	}
	v.mu.Lock() // no block is allocated while the end moves
	defer v.mu.Unlock()
	if len(v.inflight) > 0 || len(v.dirty) > 0 {
		return nil // changed since the flush: nothing is cut this time
	}
	end := int64(vhdxHeaderSection)
	for _, r := range v.regions {
		end = max(end, r.off+r.len)
	}
	for blk := range v.bat {
		// Any entry carrying an offset keeps its space, whatever its state.
		if off := int64(v.bat[blk].Load() & batOffsetMask); off != 0 {
			end = max(end, off+v.g.blockSize)
		}
	}
	if v.diff != nil {
		end = max(end, v.diff.sbEnd())
	}
	end = roundUp(end, vhdxMiB)
	st, err := v.f.Stat()
	if err != nil {
		return fmt.Errorf("trim VHDX %s: %w", v.path, err)
	}
	if end >= st.Size() {
		return nil
	}
	if err := v.sync(); err != nil {
		return err
	}
	v.hdrMu.Lock()
	if !v.hdr.LogGUID.isZero() {
		err = v.updateHeaderLocked(func(h *vhdxHeader) { h.LogGUID = guid{} })
	}
	v.hdrMu.Unlock()
	if err != nil {
		return err
	}
	v.logStarted = false
	if err := v.f.Truncate(end); err != nil {
		return fmt.Errorf("trim VHDX %s to %d bytes: %w", v.path, end, err)
	}
	if err := v.sync(); err != nil {
		return err
	}
	v.fileEnd, v.fileLen = end, end
	return nil
}

// setBlockState makes a whole block read as zeros in the given state
// (ZERO or NOT_PRESENT), waiting for an allocation of it in progress;
// with keepZero, a block already reading as zeros is left as it is.
func (v *vhdxImage) setBlockState(blk int64, state uint64, keepZero bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for {
		ch, busy := v.inflight[blk]
		if !busy {
			break
		}
		v.mu.Unlock()
		<-ch
		v.mu.Lock()
	}
	cur := v.bat[blk].Load()
	if cur == state || keepZero && (cur&batStateMask == batNotPresent || cur&batStateMask == batZero) {
		return
	}
	v.bat[blk].Store(state)
	v.dirty[v.batSectorOf(blk)] = struct{}{}
}

var _ Deallocator = (*vhdxImage)(nil)

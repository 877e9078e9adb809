package vdisk

// How VHDX metadata changes stay crash-safe.
//
// Only two kinds of metadata change here: the headers (once per session, and
// to set or clear the log GUID) and the BAT (a block gets allocated, or a
// whole block becomes ZERO). Everything else written is payload.
//
// Headers: the spec's two-copy scheme. A new header always goes to the
// non-current copy with sequence number current+1 and is fsynced before the
// other copy is touched, so at every instant at least one copy is valid and
// a torn write can only damage the copy being written, whose CRC-32C then
// fails and makes readers use the other.
//
// BAT: through the VHDX log, with this order of events on Flush:
//
//  1. Under mu, take the set of dirty BAT sectors and build their images
//     from the in-memory BAT. Every present entry in them points at a block
//     whose space was reserved (file extended) and whose payload write
//     completed before the entry was published in memory.
//  2. fsync. Now that payload and the file size are durable, and so are the
//     BAT sectors the previous flush wrote in place.
//  3. Write one log entry holding those sector images (its Tail is itself:
//     step 2 made every older entry's effect durable), then fsync.
//  4. Write the sector images in place. No fsync: the next flush's step 2,
//     or Close, does it, and until then the log entry can redo the writes.
//
// A crash before 3 completes leaves a torn or absent entry that fails its
// CRC-32C, so the old on-disk BAT stands: it points only at durable blocks,
// and the new blocks are unreferenced space at the end of the file (leaked,
// never read). A crash after 3 leaves a valid entry, which the next open
// replays (idempotently: rewriting sectors with the content they already
// have, or should have). Entries are at most half the log and follow each
// other, so a new entry never overwrites the previous one, and an older
// still-readable entry is never the newest valid one while a newer one is
// intact. Data written before Flush is therefore durable when Flush returns.
//
// Block space is only ever taken at the end of the file and never reused,
// so no crash can make a BAT entry point at bytes meant for another block.
// A block turned ZERO keeps its old space unreferenced; writing it again
// allocates new space.

import (
	"fmt"
	"math"
	"os"
	"slices"
)

// begin starts a write session: before the first modification after open,
// the spec requires new FileWriteGuid and DataWriteGuid values.
func (v *vhdxImage) begin() error {
	if v.started.Load() {
		return nil
	}
	v.hdrMu.Lock()
	defer v.hdrMu.Unlock()
	if v.started.Load() {
		return nil
	}
	err := v.updateHeaderLocked(func(h *vhdxHeader) {
		h.FileWriteGUID = newGUID()
		h.DataWriteGUID = newGUID()
	})
	if err != nil {
		return err
	}
	v.started.Store(true)
	return nil
}

// updateHeaderLocked writes a changed header to both copies, one at a time,
// each with a higher sequence number and fsynced before the next write.
func (v *vhdxImage) updateHeaderLocked(change func(*vhdxHeader)) error {
	h := v.hdr
	change(&h)
	for range 2 {
		if v.hdr.Seq >= math.MaxUint64-1 {
			return corruptf(v.path, "header sequence number %d cannot grow", v.hdr.Seq)
		}
		h.Seq = v.hdr.Seq + 1
		slot := 1 - v.hdrSlot
		if err := v.pwrite(h.encode(), []int64{vhdxHeader1Off, vhdxHeader2Off}[slot]); err != nil {
			return err
		}
		if err := v.sync(); err != nil {
			return err
		}
		v.hdr, v.hdrSlot = h, slot
	}
	return nil
}

func (v *vhdxImage) sync() error {
	if err := v.f.Sync(); err != nil {
		return fmt.Errorf("flush VHDX %s to stable storage: %w", v.path, err)
	}
	return nil
}

// Flush makes every completed write durable, data and BAT.
func (v *vhdxImage) Flush() error {
	if v.closed.Load() {
		return os.ErrClosed
	}
	if v.readOnly {
		return nil
	}
	v.flushMu.Lock()
	defer v.flushMu.Unlock()
	return v.flushLocked()
}

func (v *vhdxImage) flushLocked() error {
	v.mu.Lock()
	secs := make([]int64, 0, len(v.dirty))
	for s := range v.dirty {
		secs = append(secs, s)
	}
	slices.Sort(secs)
	writes := make([]logWrite, 0, len(secs))
	var err error
	for _, s := range secs {
		var b []byte
		if b, err = v.buildBATSector(s); err != nil {
			break
		}
		writes = append(writes, logWrite{off: v.batOff + s*batSector, data: b})
	}
	if err == nil {
		clear(v.dirty)
	}
	var bmGen uint64
	if err == nil && v.diff != nil {
		writes, bmGen = v.diff.takeBitmaps(writes)
	}
	fileLen := v.fileLen // every entry in writes points below it
	v.mu.Unlock()
	if err != nil {
		return err
	}
	err = v.commitBAT(writes, fileLen)
	if v.diff != nil {
		v.settleBitmaps(bmGen, err == nil)
	}
	if err != nil {
		v.mu.Lock()
		for _, s := range secs {
			v.dirty[s] = struct{}{} // retried by the next Flush
		}
		v.mu.Unlock()
	}
	return err
}

// commitBAT runs steps 2-4 of the protocol above.
func (v *vhdxImage) commitBAT(writes []logWrite, fileLen int64) error {
	if err := v.sync(); err != nil {
		return err
	}
	if len(writes) == 0 {
		return nil
	}
	if !v.logStarted {
		// A new GUID for this session's entries: whatever an earlier
		// session (or a crash right after setting a GUID) left in the log
		// carries another one and stops counting.
		v.hdrMu.Lock()
		err := v.updateHeaderLocked(func(h *vhdxHeader) { h.LogGUID = newGUID() })
		v.hdrMu.Unlock()
		if err != nil {
			return err
		}
		v.logPos, v.logSeq, v.logStarted = 0, 1, true
	}
	v.hdrMu.Lock()
	logGUID := v.hdr.LogGUID
	v.hdrMu.Unlock()
	per := maxLogDataSectors(v.logLen)
	for i := 0; i < len(writes); i += per {
		chunk := writes[i:min(i+per, len(writes))]
		if i > 0 {
			if err := v.sync(); err != nil { // the previous chunk's in-place writes
				return err
			}
		}
		if err := v.appendLogEntry(chunk, logGUID, fileLen); err != nil {
			return err
		}
		if err := v.sync(); err != nil {
			return err
		}
		for _, w := range chunk {
			if err := v.pwrite(w.data, w.off); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close flushes, marks the log empty (so other tools need no replay) and
// closes the file. The image must not be in use by other goroutines.
func (v *vhdxImage) Close() error {
	if !v.closed.CompareAndSwap(false, true) {
		return os.ErrClosed
	}
	var err error
	if !v.readOnly {
		v.flushMu.Lock()
		err = v.flushLocked() // its fsync also makes the last in-place BAT writes durable
		if err == nil && v.started.Load() {
			v.hdrMu.Lock()
			if !v.hdr.LogGUID.isZero() {
				err = v.updateHeaderLocked(func(h *vhdxHeader) { h.LogGUID = guid{} })
			}
			v.hdrMu.Unlock()
		}
		v.flushMu.Unlock()
	}
	if cerr := v.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close VHDX %s: %w", v.path, cerr)
	}
	if v.diff != nil && v.diff.parent != nil {
		v.diff.parent.Close()
	}
	return err
}

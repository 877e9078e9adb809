package vdisk

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// Reads, writes and zeroing of a differencing VHDX (rules in vhdx_diff.go).

// readDiff fills seg, the part of block blk from offset in, for a block
// that is not FULLY_PRESENT (entry e).
func (v *vhdxImage) readDiff(seg []byte, blk, in int64, e uint64) error {
	switch e & batStateMask {
	case batZero, batUnmapped:
		clear(seg)
		return nil
	case batPartiallyPresent:
	default: // NOT_PRESENT, UNDEFINED: the parent's
		return v.readParent(seg, blk*v.g.blockSize+in)
	}
	v.mu.Lock()
	bits, err := v.bitsLocked(blk)
	v.mu.Unlock()
	if err != nil {
		return err
	}
	sz := int64(v.g.logical)
	base := int64(e & batOffsetMask)
	for pos, end := in, in+int64(len(seg)); pos < end; {
		present := bitSet(bits, pos/sz)
		run := pos/sz + 1
		for run*sz < end && bitSet(bits, run) == present {
			run++
		}
		stop := min(run*sz, end)
		part := seg[pos-in : stop-in]
		if present {
			err = v.pread(part, base+pos)
		} else {
			err = v.readParent(part, blk*v.g.blockSize+pos)
		}
		if err != nil {
			return err
		}
		pos = stop
	}
	return nil
}

func (v *vhdxImage) readParent(p []byte, off int64) error {
	n, err := v.diff.parent.ReadAt(p, off)
	if n == len(p) && errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("%s: read its parent %s at %d: %w", v.path, v.diff.parentPath, off, err)
	}
	return nil
}

// writeDiff writes p at offset in of block blk, which was not
// FULLY_PRESENT when the caller looked.
func (v *vhdxImage) writeDiff(blk, in int64, p []byte) error {
	v.diff.wmu.Lock()
	defer v.diff.wmu.Unlock()
	return v.writeDiffLocked(blk, in, p)
}

func (v *vhdxImage) writeDiffLocked(blk, in int64, p []byte) error {
	e := v.bat[blk].Load()
	st, base := e&batStateMask, int64(e&batOffsetMask)
	whole := in == 0 && int64(len(p)) == v.g.blockBytes(blk)
	switch {
	case st == batFullyPresent:
		return v.pwrite(p, base+in)
	case st == batPartiallyPresent && whole:
		if err := v.pwrite(p, base); err != nil {
			return err
		}
		v.publish(blk, uint64(base)|batFullyPresent)
		return nil
	case st == batPartiallyPresent:
		return v.writeSectors(blk, base, in, p)
	case whole || st == batZero || st == batUnmapped:
		// A new block read as zeros: the written bytes are all it needs,
		// whether they cover it or the rest was zeros anyway.
		v.mu.Lock()
		off, err := v.reserveLocked(v.g.blockSize)
		v.mu.Unlock()
		if err != nil {
			return err
		}
		if err := v.pwrite(p, off+in); err != nil {
			return err
		}
		v.publish(blk, uint64(off)|batFullyPresent)
		return nil
	}
	// NOT_PRESENT or UNDEFINED, written in part: a new block whose other
	// sectors stay the parent's.
	v.mu.Lock()
	off, err := v.reserveLocked(v.g.blockSize)
	if err == nil {
		err = v.ensureSBLocked(blk / v.g.chunkRatio)
	}
	if err == nil {
		// Bits an earlier life of this block left (it was present, then
		// deallocated) must not mark the new block's sectors present.
		err = v.setBitsLocked(blk, 0, v.g.sectorsPerBlock(), false)
	}
	v.mu.Unlock()
	if err != nil {
		return err
	}
	return v.writeSectors(blk, off, in, p)
}

// writeSectors writes p into a partly present block at file offset base,
// completes the sectors it covers in part from the parent where they are
// not present yet, and marks them present (the block FULLY_PRESENT once
// every sector is).
func (v *vhdxImage) writeSectors(blk, base, in int64, p []byte) error {
	sz := int64(v.g.logical)
	end := in + int64(len(p))
	first, last := in/sz, (end+sz-1)/sz // sectors [first, last)
	v.mu.Lock()
	bits, err := v.bitsLocked(blk)
	v.mu.Unlock()
	if err != nil {
		return err
	}
	if err := v.pwrite(p, base+in); err != nil {
		return err
	}
	gaps := []struct{ from, to, sector int64 }{{first * sz, in, first}, {end, last * sz, last - 1}}
	for _, g := range gaps {
		if g.from >= g.to || bitSet(bits, g.sector) {
			continue
		}
		buf := make([]byte, g.to-g.from)
		if err := v.readParent(buf, blk*v.g.blockSize+g.from); err != nil {
			return err
		}
		if err := v.pwrite(buf, base+g.from); err != nil {
			return err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.setBitsLocked(blk, first, last-first, true); err != nil {
		return err
	}
	state := uint64(batPartiallyPresent)
	if full, err := v.allPresentLocked(blk); err != nil {
		return err
	} else if full {
		state = batFullyPresent
	}
	v.publishLocked(blk, uint64(base)|state)
	return nil
}

// zeroDiff makes [off, off+n) read as zeros (WriteZeroes: whole blocks
// become ZERO) or as if never written (Deallocate: whole blocks become
// NOT_PRESENT, reading the parent's bytes again).
func (v *vhdxImage) zeroDiff(off, n int64, wholeState uint64) error {
	v.diff.wmu.Lock()
	defer v.diff.wmu.Unlock()
	for done := int64(0); done < n; {
		pos := off + done
		blk := pos >> v.g.blockShift
		in := pos & (v.g.blockSize - 1)
		seg := min(n-done, v.g.blockSize-in)
		done += seg
		st := v.bat[blk].Load() & batStateMask
		if in == 0 && seg == v.g.blockBytes(blk) {
			if st != wholeState {
				v.publish(blk, wholeState)
			}
			continue
		}
		if st == batZero || st == batUnmapped {
			continue
		}
		for z := int64(0); z < seg; {
			k := min(seg-z, int64(len(zeroBuf)))
			if err := v.writeDiffLocked(blk, in+z, zeroBuf[:k]); err != nil {
				return err
			}
			z += k
		}
	}
	return nil
}

// allocatedDiff is what may be non-zero: the child's present blocks and
// whatever the parent holds.
func (v *vhdxImage) allocatedDiff() ([]Extent, error) {
	var out []Extent
	for blk := range int64(len(v.bat)) {
		if st := v.bat[blk].Load() & batStateMask; st == batFullyPresent || st == batPartiallyPresent {
			out = appendExtent(out, Extent{Off: blk * v.g.blockSize, Len: v.g.blockBytes(blk)})
		}
	}
	pa, err := v.diff.parent.Allocated()
	if err != nil {
		return nil, fmt.Errorf("%s: the allocation of its parent %s: %w", v.path, v.diff.parentPath, err)
	}
	return NormalizeExtents(append(out, pa...), v.g.size), nil
}

func (v *vhdxImage) publish(blk int64, e uint64) {
	v.mu.Lock()
	v.publishLocked(blk, e)
	v.mu.Unlock()
}

func (v *vhdxImage) publishLocked(blk int64, e uint64) {
	v.bat[blk].Store(e)
	v.dirty[v.batSectorOf(blk)] = struct{}{}
}

// ensureSBLocked gives chunk c a sector bitmap block (1 MiB at the end of
// the file, reading as zeros: every sector the parent's).
func (v *vhdxImage) ensureSBLocked(c int64) error {
	if v.diff.sb[c].Load()&batStateMask == sbPresent {
		return nil
	}
	off, err := v.reserveLocked(vhdxSBBlock)
	if err != nil {
		return err
	}
	v.diff.sb[c].Store(uint64(off) | sbPresent)
	idx := c*(v.g.chunkRatio+1) + v.g.chunkRatio
	v.dirty[idx*8/batSector] = struct{}{}
	return nil
}

// bitsLocked returns block blk's sector bitmap bits (a copy), as the
// cache of changed sectors over the file has them.
func (v *vhdxImage) bitsLocked(blk int64) ([]byte, error) {
	sbOff := int64(v.diff.sb[blk/v.g.chunkRatio].Load() & batOffsetMask)
	spanOff, n := v.g.bitmapSpan(blk)
	at := sbOff + spanOff
	b := make([]byte, n)
	if err := v.pread(b, at); err != nil {
		return nil, err
	}
	for s := at &^ (batSector - 1); s < at+n; s += batSector {
		if c, ok := v.diff.bm[s]; ok {
			lo, hi := max(s, at), min(s+batSector, at+n)
			copy(b[lo-at:hi-at], c.b[lo-s:hi-s])
		}
	}
	return b, nil
}

// setBitsLocked sets (or clears) count bits of block blk from sector
// first, in the cache, marking the 4 KiB sectors changed.
func (v *vhdxImage) setBitsLocked(blk, first, count int64, val bool) error {
	sbOff := int64(v.diff.sb[blk/v.g.chunkRatio].Load() & batOffsetMask)
	spanOff, _ := v.g.bitmapSpan(blk)
	at := sbOff + spanOff
	for i := first; i < first+count; i++ {
		byteOff := at + i/8
		s := byteOff &^ (batSector - 1)
		c, ok := v.diff.bm[s]
		if !ok {
			c = &bmSector{b: make([]byte, batSector)}
			if err := v.pread(c.b, s); err != nil {
				return err
			}
			v.diff.bm[s] = c
		}
		mask := byte(1) << (i % 8)
		old := c.b[byteOff-s]
		if val {
			c.b[byteOff-s] |= mask
		} else {
			c.b[byteOff-s] &^= mask
		}
		if c.b[byteOff-s] != old {
			v.diff.bmGen++
			c.dirty, c.gen = true, v.diff.bmGen
		}
	}
	return nil
}

// allPresentLocked tells whether every sector of block blk is present.
func (v *vhdxImage) allPresentLocked(blk int64) (bool, error) {
	bits, err := v.bitsLocked(blk)
	if err != nil {
		return false, err
	}
	for s := range v.g.blockBytes(blk) / int64(v.g.logical) {
		if !bitSet(bits, s) {
			return false, nil
		}
	}
	return true, nil
}

func bitSet(bits []byte, i int64) bool { return bits[i/8]&(1<<(i%8)) != 0 }

// takeBitmaps adds the changed sector bitmap sectors to a flush's writes,
// ahead of the BAT sectors: a log cut short between entries then never
// shows a block present with bits of another life (the caller holds mu).
func (d *vhdxDiff) takeBitmaps(writes []logWrite) ([]logWrite, uint64) {
	var offs []int64
	for off, c := range d.bm {
		if c.dirty {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	out := make([]logWrite, 0, len(offs)+len(writes))
	for _, off := range offs {
		c := d.bm[off]
		out = append(out, logWrite{off: off, data: slices.Clone(c.b)})
		c.dirty = false
	}
	return append(out, writes...), d.bmGen
}

// settleBitmaps ends a flush: sectors it wrote in place (and not changed
// since) leave the cache, the file holding them now; after a failure they
// are dirty again, for the next flush.
func (v *vhdxImage) settleBitmaps(gen uint64, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for off, c := range v.diff.bm {
		if c.dirty || c.gen > gen {
			continue
		}
		if ok {
			delete(v.diff.bm, off)
		} else {
			c.dirty = true
		}
	}
}

// loadSBEntry checks and keeps chunk c's sector bitmap entry.
func (v *vhdxImage) loadSBEntry(c int64, e uint64, claim func(e uint64, n, need int64, what string) error) error {
	switch st := e & batStateMask; st {
	case sbNotPresent:
	case sbPresent:
		if err := claim(e, vhdxSBBlock, vhdxSBBlock, fmt.Sprintf("sector bitmap block %d", c)); err != nil {
			return err
		}
	default:
		return corruptf(v.path, "sector bitmap block %d has BAT state %d (only 0 and 6 exist)", c, st)
	}
	v.diff.sb[c].Store(e)
	return nil
}

// checkSBEntries applies 2.5.1.2: a chunk with a partially present block
// must have its sector bitmap block.
func (v *vhdxImage) checkSBEntries() error {
	for blk := range int64(len(v.bat)) {
		if v.bat[blk].Load()&batStateMask != batPartiallyPresent {
			continue
		}
		if v.diff.sb[blk/v.g.chunkRatio].Load()&batStateMask != sbPresent {
			return corruptf(v.path, "block %d is partially present but its chunk has no sector bitmap block", blk)
		}
	}
	return nil
}

// sbEnd is where the last sector bitmap block ends (0 if none).
func (d *vhdxDiff) sbEnd() int64 {
	var end int64
	for i := range d.sb {
		if e := d.sb[i].Load(); e&batStateMask == sbPresent {
			end = max(end, int64(e&batOffsetMask)+vhdxSBBlock)
		}
	}
	return end
}

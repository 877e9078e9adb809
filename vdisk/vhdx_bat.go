package vdisk

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync/atomic"
)

// batSector is the size of the BAT pieces written through the log.
const batSector = 4096

// loadBAT reads the payload entries into memory and rejects entries that
// point outside the file, into a region, or at another block's space.
//
// Memory is bounded before anything is allocated: the entry count follows
// from the (validated, at most 64 TiB) virtual size and block size, and must
// fit in the BAT region, which must lie inside the file.
func (v *vhdxImage) loadBAT() error {
	g := v.g
	need := g.batEntries * 8
	if need > v.batLen {
		return corruptf(v.path, "BAT region of %d bytes cannot hold the %d entries a %d-byte disk with %d-byte blocks needs",
			v.batLen, g.batEntries, g.size, g.blockSize)
	}
	v.bat = make([]atomic.Uint64, g.dataBlocks)
	// One bit per MiB of the file (8 MiB for a 64 TiB file) marks space
	// taken by a block, to find blocks that share space. The last block may
	// end past the file (only its virtual part must be there), by less than
	// a block.
	seen := make([]uint64, ((v.fileSize+vhdxMaxBlock)>>20+63)/64)
	// claim checks that a block of n bytes (of which need must be in the
	// file) at the entry's offset lies past the header section, outside
	// every region and every other block, and takes its space.
	claim := func(e uint64, n, need int64, what string) error {
		// Checked as unsigned first: an absurd offset must not turn
		// negative and pass for one in the header section.
		if uoff := e & batOffsetMask; uoff > uint64(v.fileSize) || uint64(v.fileSize)-uoff < uint64(need) {
			return corruptf(v.path, "%s at file offset %d runs past the end of the %d-byte file", what, uoff, v.fileSize)
		}
		off := int64(e & batOffsetMask)
		if off < vhdxHeaderSection {
			return corruptf(v.path, "%s is present at file offset %d, inside the header section", what, off)
		}
		if r, ok := v.regionAt(off, n); ok {
			return corruptf(v.path, "%s at file offset %d overlaps the %s", what, off, r.name)
		}
		for u := off >> 20; u < (off+n)>>20; u++ {
			if seen[u/64]&(1<<(u%64)) != 0 {
				return corruptf(v.path, "%s at file offset %d overlaps another block", what, off)
			}
			seen[u/64] |= 1 << (u % 64)
		}
		// New blocks go after every block's full extent.
		v.fileEnd = max(v.fileEnd, off+n)
		return nil
	}
	buf := make([]byte, min(need, 1<<20))
	for start := int64(0); start < need; start += int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), need-start)]
		if err := v.pread(chunk, v.batOff+start); err != nil {
			return err
		}
		for i := 0; i < len(chunk); i += 8 {
			idx := (start + int64(i)) / 8
			e := binary.LittleEndian.Uint64(chunk[i:])
			if g.isSectorBitmap(idx) {
				// Only differencing disks use sector bitmaps; some writers
				// leave junk here, which readers of others must ignore.
				if v.diff != nil {
					if err := v.loadSBEntry(idx/(g.chunkRatio+1), e, claim); err != nil {
						return err
					}
				}
				continue
			}
			blk := g.payloadBlock(idx)
			if blk >= g.dataBlocks {
				continue // a differencing file's last chunk: entries past the disk
			}
			switch st := e & batStateMask; st {
			case batNotPresent, batUndefined, batZero, batUnmapped:
			case batPartiallyPresent:
				if v.diff == nil {
					return corruptf(v.path, "block %d is partially present (BAT state 7), which only a differencing disk may use", blk)
				}
				fallthrough
			case batFullyPresent:
				if err := claim(e, g.blockSize, g.blockBytes(blk), fmt.Sprintf("block %d", blk)); err != nil {
					return err
				}
			default:
				return corruptf(v.path, "block %d has undefined BAT state %d", blk, st)
			}
			v.bat[blk].Store(e)
		}
	}
	if v.diff != nil {
		return v.checkSBEntries()
	}
	return nil
}

// regionAt returns a region (header section, log, BAT, metadata, other)
// that [off, off+n) overlaps.
func (v *vhdxImage) regionAt(off, n int64) (fileExtent, bool) {
	// regions are sorted and disjoint: the first one ending after off is the
	// only candidate.
	i := sort.Search(len(v.regions), func(i int) bool { return v.regions[i].off+v.regions[i].len > off })
	if i < len(v.regions) && v.regions[i].off < off+n {
		return v.regions[i], true
	}
	return fileExtent{}, false
}

// batSectorOf is the index of the 4 KiB BAT sector holding block blk.
func (v *vhdxImage) batSectorOf(blk int64) int64 {
	return v.g.batIndex(blk) * 8 / batSector
}

// buildBATSector returns the on-disk content of BAT sector s: the current
// file content (so sector bitmap entries and padding are kept as found) with
// every payload entry replaced by the in-memory one.
func (v *vhdxImage) buildBATSector(s int64) ([]byte, error) {
	b := make([]byte, batSector)
	if err := v.pread(b, v.batOff+s*batSector); err != nil {
		return nil, err
	}
	first := s * batSector / 8
	for i := range int64(batSector / 8) {
		idx := first + i
		if idx >= v.g.batEntries {
			break
		}
		if v.g.isSectorBitmap(idx) {
			if v.diff != nil {
				binary.LittleEndian.PutUint64(b[i*8:], v.diff.sb[idx/(v.g.chunkRatio+1)].Load())
			}
			continue
		}
		if blk := v.g.payloadBlock(idx); blk < v.g.dataBlocks {
			binary.LittleEndian.PutUint64(b[i*8:], v.bat[blk].Load())
		}
	}
	return b, nil
}

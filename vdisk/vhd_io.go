package vdisk

import (
	"fmt"
	"io"
	"slices"
)

// Crash safety of a dynamic VHD (the format has no log, so the order of
// writes is what keeps it consistent):
//
//  1. A new block goes at dataEnd, past every structure: its zeroed bitmap
//     overwrites the old footer and its payload is fresh space past the
//     old end of the file (a hole, so it reads as zeros), then the footer
//     is written again after it. Only the in-memory BAT points to it.
//  2. Flush fsyncs the file (data and bitmaps of new blocks are durable),
//     then writes the BAT sectors that changed, then fsyncs again.
//
// So the on-disk BAT only ever points to blocks that are durable. A crash
// before the BAT write leaves an orphan block that no entry points to:
// harmless, it reads as nothing, and Open puts new blocks after it. A
// crash may also leave the file without its trailing footer (it was
// overwritten by a bitmap); readers use the copy at offset 0, as the spec
// allows, and the next Flush writes the footer back at the end. The
// footer's content never changes, only its place, so no order of footer
// writes can make it disagree with the BAT.

func (d *vhdDynamic) ReadAt(p []byte, off int64) (int, error) {
	n, err := checkRange(off, len(p), d.size)
	if err != nil {
		if off >= 0 && off >= d.size {
			return 0, io.EOF
		}
		return 0, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.forBlocks(off, int64(n), func(blk, in int64, q []byte) error {
		return d.readInBlock(q, blk, in)
	}, p); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (d *vhdDynamic) WriteAt(p []byte, off int64) (int, error) {
	if d.ro {
		return 0, fmt.Errorf("%s: image is open read-only", d.path)
	}
	n, err := checkRange(off, len(p), d.size)
	if err != nil {
		return 0, err
	}
	if n < len(p) {
		return 0, fmt.Errorf("%w: write of %d bytes at %d ends past the virtual size %d", ErrOutOfRange, len(p), off, d.size)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.forBlocks(off, int64(n), d.writeInBlock, p); err != nil {
		return 0, err
	}
	return n, nil
}

// forBlocks calls fn for each block-sized piece of [off, off+n), with the
// matching slice of p (nil when p is nil).
func (d *vhdDynamic) forBlocks(off, n int64, fn func(blk, in int64, q []byte) error, p []byte) error {
	for done := int64(0); done < n; {
		pos := off + done
		blk, in := pos/d.blockSize, pos%d.blockSize
		c := min(n-done, d.blockSize-in)
		var q []byte
		if p != nil {
			q = p[done : done+c]
		}
		if err := fn(blk, in, q); err != nil {
			return err
		}
		done += c
	}
	return nil
}

// vhdBitmap is the part of a block's sector bitmap covering some sectors;
// first is the sector of the high bit of b[0].
type vhdBitmap struct {
	b     []byte
	first int64
}

func (m vhdBitmap) get(s int64) bool { return m.b[(s-m.first)/8]&(0x80>>(s%8)) != 0 }

// set marks sectors [s0, s1) present and reports whether anything changed.
func (m vhdBitmap) set(s0, s1 int64) bool {
	changed := false
	for s := s0; s < s1; s++ {
		i, bit := (s-m.first)/8, byte(0x80>>(s%8))
		if m.b[i]&bit == 0 {
			m.b[i] |= bit
			changed = true
		}
	}
	return changed
}

func (d *vhdDynamic) readBitmap(base, s0, s1 int64) (vhdBitmap, error) {
	first := s0 / 8 * 8
	b := make([]byte, (s1-first+7)/8)
	if _, err := d.f.ReadAt(b, base+first/8); err != nil {
		return vhdBitmap{}, fmt.Errorf("%s: read sector bitmap: %w", d.path, err)
	}
	return vhdBitmap{b: b, first: first}, nil
}

// readInBlock fills p from offset in of block blk: sectors whose bitmap
// bit is clear read as zeros, as the spec says.
func (d *vhdDynamic) readInBlock(p []byte, blk, in int64) error {
	e := d.bat[blk]
	if e == vhdUnusedEntry {
		clear(p)
		return nil
	}
	base := int64(e) * 512
	end := in + int64(len(p))
	s1 := (end + 511) / 512
	bm, err := d.readBitmap(base, in/512, s1)
	if err != nil {
		return err
	}
	for pos := in; pos < end; {
		s := pos / 512
		present := bm.get(s)
		r := s + 1
		for r < s1 && bm.get(r) == present {
			r++
		}
		runEnd := min(r*512, end)
		q := p[pos-in : runEnd-in]
		if present {
			if _, err := d.f.ReadAt(q, base+d.bitmapSize+pos); err != nil {
				return fmt.Errorf("%s: read block %d: %w", d.path, blk, err)
			}
		} else {
			clear(q)
		}
		pos = runEnd
	}
	return nil
}

// writeInBlock writes p at offset in of block blk, allocating the block
// if needed, then marks its sectors present. Partial sectors are merged
// with what they read as now, so a sector never mixes new data with
// stale bytes hidden behind a clear bitmap bit.
func (d *vhdDynamic) writeInBlock(blk, in int64, p []byte) error {
	if d.bat[blk] == vhdUnusedEntry {
		if err := d.allocate(blk); err != nil {
			return err
		}
	}
	base := int64(d.bat[blk]) * 512
	end := in + int64(len(p))
	s0, s1 := in/512, (end+511)/512
	data, at := p, in
	if in%512 != 0 || end%512 != 0 {
		data, at = make([]byte, (s1-s0)*512), s0*512
		if err := d.readInBlock(data[:512], blk, at); err != nil {
			return err
		}
		if err := d.readInBlock(data[len(data)-512:], blk, (s1-1)*512); err != nil {
			return err
		}
		copy(data[in-at:], p)
	}
	if _, err := d.f.WriteAt(data, base+d.bitmapSize+at); err != nil {
		return fmt.Errorf("%s: write block %d: %w", d.path, blk, err)
	}
	bm, err := d.readBitmap(base, s0, s1)
	if err != nil {
		return err
	}
	if bm.set(s0, s1) {
		if _, err := d.f.WriteAt(bm.b, base+bm.first/8); err != nil {
			return fmt.Errorf("%s: write sector bitmap: %w", d.path, err)
		}
	}
	return nil
}

// allocate appends block blk at dataEnd (see the crash-safety note above).
func (d *vhdDynamic) allocate(blk int64) error {
	off := d.dataEnd
	if off/512 >= int64(vhdUnusedEntry) {
		return fmt.Errorf("%s: the file has reached the largest size a VHD BAT can address", d.path)
	}
	newEnd := off + d.bitmapSize + d.blockSize
	if _, err := d.f.WriteAt(make([]byte, d.bitmapSize), off); err != nil {
		return fmt.Errorf("%s: write new block's bitmap: %w", d.path, err)
	}
	d.dataEnd, d.footerAtEnd = newEnd, false
	if _, err := d.f.WriteAt(d.footer, newEnd); err != nil {
		return fmt.Errorf("%s: write footer: %w", d.path, err)
	}
	d.footerAtEnd = true
	d.bat[blk] = uint32(off / 512)
	d.dirty[blk/128] = struct{}{}
	return nil
}

// Flush makes blocks durable, then the BAT entries pointing to them, then
// the footers.
func (d *vhdDynamic) Flush() error {
	if d.ro {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("%s: flush: %w", d.path, err)
	}
	if len(d.dirty) == 0 && d.footerAtEnd && !d.headBad {
		return nil
	}
	sectors := make([]int64, 0, len(d.dirty))
	for s := range d.dirty {
		sectors = append(sectors, s)
	}
	slices.Sort(sectors)
	buf := make([]byte, 512)
	for _, s := range sectors {
		ents := d.bat[s*128 : min(int64(len(d.bat)), s*128+128)]
		for i, e := range ents {
			buf[i*4], buf[i*4+1], buf[i*4+2], buf[i*4+3] = byte(e>>24), byte(e>>16), byte(e>>8), byte(e)
		}
		if _, err := d.f.WriteAt(buf[:len(ents)*4], d.batOff+s*512); err != nil {
			return fmt.Errorf("%s: write BAT: %w", d.path, err)
		}
	}
	if !d.footerAtEnd {
		if _, err := d.f.WriteAt(d.footer, d.dataEnd); err != nil {
			return fmt.Errorf("%s: write footer: %w", d.path, err)
		}
	}
	if d.headBad {
		if _, err := d.f.WriteAt(d.footer, 0); err != nil {
			return fmt.Errorf("%s: repair footer copy: %w", d.path, err)
		}
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("%s: flush: %w", d.path, err)
	}
	clear(d.dirty)
	d.footerAtEnd, d.headBad = true, false
	return nil
}

// WriteZeroes leaves unallocated blocks unallocated and zeroes the data
// of allocated ones in place (punching holes where the file system can).
// Bitmap bits stay set: zeroed data reads as zeros for every reader,
// including qemu, which ignores the bitmaps of dynamic disks.
func (d *vhdDynamic) WriteZeroes(off, n int64) error {
	if d.ro {
		return fmt.Errorf("%s: image is open read-only", d.path)
	}
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return fmt.Errorf("%w: zero %d bytes at %d on a disk of %d", ErrOutOfRange, n, off, d.size)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.forBlocks(off, n, func(blk, in int64, _ []byte) error {
		e := d.bat[blk]
		if e == vhdUnusedEntry {
			return nil
		}
		c := min(off+n-(blk*d.blockSize+in), d.blockSize-in)
		return zeroFileRange(d.f, int64(e)*512+d.bitmapSize+in, c)
	}, nil)
}

func (d *vhdDynamic) Size() int64 { return d.size }

// Allocated lists the blocks the BAT points to, merged into runs.
func (d *vhdDynamic) Allocated() ([]Extent, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []Extent
	for i, e := range d.bat {
		if e != vhdUnusedEntry {
			off := int64(i) * d.blockSize
			out = appendExtent(out, Extent{Off: off, Len: min(d.blockSize, d.size-off)})
		}
	}
	return out, nil
}

func (d *vhdDynamic) Close() error {
	d.closeOnce.Do(func() {
		err := d.Flush()
		if cerr := d.f.Close(); err == nil {
			err = cerr
		}
		d.closeErr = err
	})
	return d.closeErr
}

func (d *vhdDynamic) Info() Info {
	in := Info{Path: d.path, Format: VHD, VirtualSize: d.size, BlockSize: d.blockSize, LogicalSector: 512, PhysicalSector: 512}
	if st, err := d.f.Stat(); err == nil {
		in.FileSize = st.Size()
	}
	if ext, err := d.Allocated(); err == nil {
		in.AllocatedBytes = extentBytes(ext)
	}
	return in
}

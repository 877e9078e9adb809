package vdisk

import "fmt"

// Deallocate makes [off, off+n) read as zeros: whole blocks get an unused
// BAT entry again (their space in the file is left unused until Trim),
// partial blocks are zeroed in place as WriteZeroes does.
func (d *vhdDynamic) Deallocate(off, n int64) error {
	if d.ro {
		return fmt.Errorf("%s: image is open read-only", d.path)
	}
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return fmt.Errorf("%w: deallocate %d bytes at %d on a disk of %d", ErrOutOfRange, n, off, d.size)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.forBlocks(off, n, func(blk, in int64, _ []byte) error {
		e := d.bat[blk]
		if e == vhdUnusedEntry {
			return nil
		}
		c := min(off+n-(blk*d.blockSize+in), d.blockSize-in)
		if in == 0 && c == min(d.blockSize, d.size-blk*d.blockSize) {
			d.bat[blk] = vhdUnusedEntry
			d.dirty[blk/128] = struct{}{}
			return nil
		}
		return zeroFileRange(d.f, int64(e)*512+d.bitmapSize+in, c)
	}, nil)
}

// Trim flushes (the BAT no longer points at deallocated blocks, durably),
// then moves the footer right after the last allocated block and cuts the
// file there. A crash in between leaves a longer file whose extra bytes
// no BAT entry points to: Open puts new blocks after them.
func (d *vhdDynamic) Trim() error {
	if err := d.Flush(); err != nil || d.ro {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.dirty) > 0 {
		return nil // changed since the flush: nothing is cut this time
	}
	end := d.metaEnd
	for _, e := range d.bat {
		if e != vhdUnusedEntry {
			end = max(end, int64(e)*512+d.bitmapSize+d.blockSize)
		}
	}
	end = vhdRoundUp(end, 512)
	if end >= d.dataEnd {
		return nil
	}
	if _, err := d.f.WriteAt(d.footer, end); err != nil {
		return fmt.Errorf("%s: write footer: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("%s: flush: %w", d.path, err)
	}
	if err := d.f.Truncate(end + VHDFooterSize); err != nil {
		return fmt.Errorf("%s: trim to %d bytes: %w", d.path, end+VHDFooterSize, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("%s: flush: %w", d.path, err)
	}
	d.dataEnd, d.footerAtEnd = end, true
	return nil
}

var _ Deallocator = (*vhdDynamic)(nil)

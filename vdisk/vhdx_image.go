package vdisk

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// vhdxImage is an open VHDX file.
//
// Concurrency: the in-memory BAT is an array of atomics, so reads and writes
// to allocated blocks take no lock at all and go straight to pread/pwrite.
// Allocation (reserving file space, publishing the BAT entry) is serialized
// by mu; a block being allocated is in inflight so that a second writer to it
// waits instead of allocating twice. Flush and Close are serialized by
// flushMu, header updates by hdrMu (lock order: flushMu, mu, hdrMu).
type vhdxImage struct {
	path     string
	f        *os.File
	readOnly bool
	chain    bool      // a differencing file may open (OpenChain)
	diff     *vhdxDiff // a differencing file's parent and sector bitmaps (vhdx_diff.go)
	fixed    bool      // LeaveBlocksAllocated: blocks never go back to unallocated
	g        vhdxGeometry
	page83   guid

	fileSize         int64 // at open (after a replay's extension)
	logOff, logLen   int64
	batOff, batLen   int64
	metaOff, metaLen int64
	regions          []fileExtent // sorted, disjoint; for BAT checks

	bat     []atomic.Uint64 // payload entries, indexed by block
	overlay *logOverlay     // read-only opens of a file with a pending log

	mu       sync.Mutex
	fileEnd  int64                   // where the next block goes (1 MiB aligned)
	fileLen  int64                   // the file's size: what log entries record
	inflight map[int64]chan struct{} // blocks being allocated
	dirty    map[int64]struct{}      // BAT sectors changed since the last flush

	hdrMu   sync.Mutex
	hdr     vhdxHeader // current header
	hdrSlot int        // which copy (0 or 1) holds hdr
	started atomic.Bool

	flushMu    sync.Mutex
	logStarted bool   // this session set its own log GUID
	logPos     int64  // next log entry position, relative to logOff
	logSeq     uint64 // next log entry sequence number

	closed atomic.Bool
}

// Size is the virtual size.
func (v *vhdxImage) Size() int64 { return v.g.size }

// ReadAt reads virtual bytes; blocks that are not present read as zeros.
// Reading past Size returns io.EOF like any io.ReaderAt.
func (v *vhdxImage) ReadAt(p []byte, off int64) (int, error) {
	if v.closed.Load() {
		return 0, os.ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("%s: read at %d: %w", v.path, off, ErrOutOfRange)
	}
	if off >= v.g.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > v.g.size-off {
		p, eof = p[:v.g.size-off], io.EOF
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		blk := pos >> v.g.blockShift
		in := pos & (v.g.blockSize - 1)
		seg := p[done : done+int(min(int64(len(p)-done), v.g.blockSize-in))]
		e := v.bat[blk].Load()
		if e&batStateMask == batFullyPresent {
			if err := v.pread(seg, int64(e&batOffsetMask)+in); err != nil {
				return done, err
			}
		} else if v.diff != nil {
			if err := v.readDiff(seg, blk, in, e); err != nil {
				return done, err
			}
		} else {
			clear(seg)
		}
		done += len(seg)
	}
	return len(p), eof
}

// WriteAt writes virtual bytes, allocating blocks at the end of the file
// as needed. A write that does not fit inside Size fails before writing.
func (v *vhdxImage) WriteAt(p []byte, off int64) (int, error) {
	if err := v.writable(off, int64(len(p))); err != nil {
		return 0, err
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		blk := pos >> v.g.blockShift
		in := pos & (v.g.blockSize - 1)
		n := int(min(int64(len(p)-done), v.g.blockSize-in))
		if err := v.writeBlock(blk, in, p[done:done+n]); err != nil {
			return done, err
		}
		done += n
	}
	return len(p), nil
}

// writable checks a modification of [off, off+n) and starts the write
// session (new FileWriteGuid/DataWriteGuid) before the first one.
func (v *vhdxImage) writable(off, n int64) error {
	if v.closed.Load() {
		return os.ErrClosed
	}
	if v.readOnly {
		return fmt.Errorf("%s: opened read-only: %w", v.path, os.ErrPermission)
	}
	if off < 0 || n < 0 || off > v.g.size || n > v.g.size-off {
		return fmt.Errorf("%s: write of %d bytes at %d past the virtual size %d: %w", v.path, n, off, v.g.size, ErrOutOfRange)
	}
	if n == 0 {
		return nil // changes nothing, so starts no session
	}
	return v.begin()
}

// writeBlock writes p at offset in inside block blk.
func (v *vhdxImage) writeBlock(blk, in int64, p []byte) error {
	for {
		e := v.bat[blk].Load()
		if e&batStateMask == batFullyPresent {
			return v.pwrite(p, int64(e&batOffsetMask)+in)
		}
		if v.diff != nil {
			return v.writeDiff(blk, in, p)
		}
		v.mu.Lock()
		if v.bat[blk].Load()&batStateMask == batFullyPresent {
			v.mu.Unlock()
			continue
		}
		if ch, busy := v.inflight[blk]; busy {
			v.mu.Unlock()
			<-ch
			continue
		}
		off, err := v.reserveLocked(v.g.blockSize)
		if err != nil {
			v.mu.Unlock()
			return err
		}
		ch := make(chan struct{})
		v.inflight[blk] = ch
		v.mu.Unlock()

		// The new space reads as zeros (the file was just extended over it),
		// so only the bytes written here need writing.
		werr := v.pwrite(p, off+in)

		v.mu.Lock()
		delete(v.inflight, blk)
		close(ch)
		if werr == nil {
			v.bat[blk].Store(uint64(off) | batFullyPresent)
			v.dirty[v.batSectorOf(blk)] = struct{}{}
		}
		v.mu.Unlock()
		return werr
	}
}

// reserveLocked grows the file by n bytes (a payload block, or a sector
// bitmap block) and returns their offset. Space is only ever taken at the
// end and never reused, so a block can never receive bytes meant for
// another one, whatever a crash leaves of the BAT (see vhdx_commit.go).
func (v *vhdxImage) reserveLocked(n int64) (int64, error) {
	off := v.fileEnd
	end := off + n
	if end > vhdxMaxFileSize {
		return 0, fmt.Errorf("%s: file would grow past %d bytes: %w", v.path, int64(vhdxMaxFileSize), ErrOutOfRange)
	}
	if err := v.f.Truncate(end); err != nil {
		return 0, fmt.Errorf("grow VHDX %s to %d bytes for a new block (is the disk full?): %w", v.path, end, err)
	}
	v.fileEnd, v.fileLen = end, end
	return off, nil
}

func (v *vhdxImage) pwrite(p []byte, off int64) error {
	if _, err := v.f.WriteAt(p, off); err != nil {
		return fmt.Errorf("write VHDX %s at offset %d: %w", v.path, off, err)
	}
	return nil
}

// zeroBuf is shared read-only zeros for writing zero ranges.
var zeroBuf = make([]byte, 1<<20)

// WriteZeroes makes [off, off+n) read as zeros. Whole blocks of a dynamic
// disk become ZERO in the BAT without writing payload (their old space is
// not reused, nor reclaimed); partial blocks get zeros written only if they
// are allocated. A fixed disk keeps its blocks and gets zeros written.
func (v *vhdxImage) WriteZeroes(off, n int64) error {
	if err := v.writable(off, n); err != nil {
		return err
	}
	if v.diff != nil {
		return v.zeroDiff(off, n, batZero)
	}
	for done := int64(0); done < n; {
		pos := off + done
		blk := pos >> v.g.blockShift
		in := pos & (v.g.blockSize - 1)
		seg := min(n-done, v.g.blockSize-in)
		if in == 0 && seg == v.g.blockBytes(blk) && !v.fixed {
			v.unmapBlock(blk)
		} else if err := v.zeroInBlock(blk, in, seg); err != nil {
			return err
		}
		done += seg
	}
	return nil
}

// unmapBlock sets a whole block to the ZERO state (file offset 0: Hyper-V
// refuses ZERO entries that carry one), unless it already reads as zeros.
func (v *vhdxImage) unmapBlock(blk int64) { v.setBlockState(blk, batZero, true) }

// zeroInBlock writes zeros over part of a block if it is allocated.
func (v *vhdxImage) zeroInBlock(blk, in, n int64) error {
	e := v.bat[blk].Load()
	if e&batStateMask != batFullyPresent {
		return nil
	}
	base := int64(e&batOffsetMask) + in
	for done := int64(0); done < n; {
		k := min(n-done, int64(len(zeroBuf)))
		if err := v.pwrite(zeroBuf[:k], base+done); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// Allocated lists the present blocks as merged extents, clipped to Size.
func (v *vhdxImage) Allocated() ([]Extent, error) {
	if v.closed.Load() {
		return nil, os.ErrClosed
	}
	if v.diff != nil {
		return v.allocatedDiff()
	}
	var out []Extent
	for blk := range int64(len(v.bat)) {
		if v.bat[blk].Load()&batStateMask != batFullyPresent {
			continue
		}
		out = appendExtent(out, Extent{Off: blk * v.g.blockSize, Len: v.g.blockBytes(blk)})
	}
	return out, nil
}

// Info describes the image.
func (v *vhdxImage) Info() Info {
	in := Info{
		Path: v.path, Format: VHDX, Fixed: v.fixed, VirtualSize: v.g.size, BlockSize: v.g.blockSize,
		LogicalSector: v.g.logical, PhysicalSector: v.g.physical, FileSize: v.fileSize,
	}
	if st, err := v.f.Stat(); err == nil {
		in.FileSize = st.Size()
	}
	ext, _ := v.Allocated()
	in.AllocatedBytes = extentBytes(ext)
	in.Parent = ParentPath(v)
	return in
}

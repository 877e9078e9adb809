package vdisk

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"sync"
)

const (
	vhdHeaderSize       = 1024
	vhdHeaderCookie     = "cxsparse"
	vhdHeaderChecksum   = 36
	vhdDefaultBlockSize = 2 << 20
	vhdUnusedEntry      = ^uint32(0)
	// vhdMaxBATEntries bounds the BAT we hold in memory (64 MiB): 32 TiB
	// in 2 MiB blocks, far past the 2040 GiB any VHD may have.
	vhdMaxBATEntries = 1 << 24
)

// vhdHeader is the dynamic disk header ("cxsparse").
type vhdHeader struct {
	TableOffset     uint64
	Version         uint32
	MaxTableEntries uint32
	BlockSize       uint32
}

func parseVHDHeader(b []byte) (*vhdHeader, error) {
	if string(b[0:8]) != vhdHeaderCookie {
		return nil, fmt.Errorf("dynamic header cookie is %q, want %q", b[0:8], vhdHeaderCookie)
	}
	be := binary.BigEndian
	if sum, want := vhdChecksum(b, vhdHeaderChecksum), be.Uint32(b[vhdHeaderChecksum:]); sum != want {
		return nil, fmt.Errorf("dynamic header checksum is %#08x, computed %#08x (header damaged)", want, sum)
	}
	h := &vhdHeader{
		TableOffset:     be.Uint64(b[16:]),
		Version:         be.Uint32(b[24:]),
		MaxTableEntries: be.Uint32(b[28:]),
		BlockSize:       be.Uint32(b[32:]),
	}
	if h.Version>>16 != 1 {
		return nil, fmt.Errorf("dynamic header version %#08x (only 1.x exists)", h.Version)
	}
	if bs := h.BlockSize; bs < 512 || bs > 256<<20 || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("block size %d is not a power of two from 512 bytes to 256 MiB", bs)
	}
	return h, nil
}

func (h *vhdHeader) marshal() []byte {
	b := make([]byte, vhdHeaderSize)
	be := binary.BigEndian
	copy(b, vhdHeaderCookie)
	be.PutUint64(b[8:], vhdFixedOffset)
	be.PutUint64(b[16:], h.TableOffset)
	be.PutUint32(b[24:], h.Version)
	be.PutUint32(b[28:], h.MaxTableEntries)
	be.PutUint32(b[32:], h.BlockSize)
	be.PutUint32(b[vhdHeaderChecksum:], vhdChecksum(b, vhdHeaderChecksum))
	return b
}

// vhdBitmapSize is the size of a block's sector bitmap: a bit per sector,
// padded to whole sectors.
func vhdBitmapSize(blockSize int64) int64 {
	return vhdRoundUp((blockSize/512+7)/8, 512)
}

func vhdRoundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// vhdDynamic is a dynamic VHD: footer copy, header, BAT, then blocks
// (sector bitmap + data) in any order, then the footer.
type vhdDynamic struct {
	f          *os.File
	path       string
	ro         bool
	footer     []byte // marshalled footer, written at dataEnd
	size       int64
	blockSize  int64
	bitmapSize int64
	batOff     int64
	metaEnd    int64 // past the footer copy, header and BAT

	mu  sync.RWMutex
	bat []uint32
	// dirty holds BAT sector numbers whose new entries are not on disk
	// yet: they are written by Flush, after the blocks they point to.
	dirty map[int64]struct{}
	// dataEnd is where the next block goes and where the footer belongs.
	dataEnd     int64
	footerAtEnd bool
	headBad     bool

	closeOnce sync.Once
	closeErr  error
}

// openDynamicVHD validates the header, the BAT and every block it points
// to before returning, so that reads and writes never meet a structure
// pointing outside the file or into another structure.
func openDynamicVHD(f *os.File, path string, ro bool, ft *VHDFooter, headBad bool, fileSize int64) (Image, error) {
	if ft.DiskType == VHDTypeDifferencing {
		return nil, fmt.Errorf("%s: %w: a differencing VHD (a child of another disk) is not supported; merge it into its parent first (Hyper-V Edit Disk > Merge)", path, ErrUnsupported)
	}
	hoff := int64(ft.DataOffset)
	if hoff < 0 || hoff > fileSize-vhdHeaderSize {
		return nil, corruptf(path, "dynamic header offset %d is past the end of the %d-byte file", hoff, fileSize)
	}
	hb := make([]byte, vhdHeaderSize)
	if _, err := f.ReadAt(hb, hoff); err != nil {
		return nil, fmt.Errorf("%s: read dynamic header: %w", path, err)
	}
	h, err := parseVHDHeader(hb)
	if err != nil {
		return nil, corruptf(path, "%v", err)
	}
	d := &vhdDynamic{
		f: f, path: path, ro: ro, footer: ft.Marshal(), size: int64(ft.CurrentSize),
		blockSize: int64(h.BlockSize), bitmapSize: vhdBitmapSize(int64(h.BlockSize)),
		batOff: int64(h.TableOffset), dirty: map[int64]struct{}{}, headBad: headBad,
	}
	if err := d.loadBAT(h, hoff, fileSize); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *vhdDynamic) loadBAT(h *vhdHeader, hoff, fileSize int64) error {
	n := (d.size + d.blockSize - 1) / d.blockSize
	if n > vhdMaxBATEntries {
		return corruptf(d.path, "%d blocks of %d bytes is more than any VHD has (at most %d)", n, d.blockSize, vhdMaxBATEntries)
	}
	if int64(h.MaxTableEntries) < n {
		return corruptf(d.path, "the BAT has %d entries but the virtual size %d needs %d blocks of %d bytes", h.MaxTableEntries, d.size, n, d.blockSize)
	}
	batLen := vhdRoundUp(int64(h.MaxTableEntries)*4, 512)
	if d.batOff%512 != 0 || d.batOff < VHDFooterSize || d.batOff > fileSize || batLen > fileSize-d.batOff {
		return corruptf(d.path, "the BAT (%d bytes at %d) is not 512-byte aligned inside the %d-byte file", batLen, d.batOff, fileSize)
	}
	if vhdOverlaps(d.batOff, batLen, hoff, vhdHeaderSize) {
		return corruptf(d.path, "the BAT (%d bytes at %d) overlaps the dynamic header at %d", batLen, d.batOff, hoff)
	}
	// n is bounded by vhdMaxBATEntries and by the file size (the BAT fits
	// in the file), so this allocation is bounded too.
	d.bat = make([]uint32, n)
	buf := make([]byte, 64<<10)
	for i := int64(0); i < n; {
		c := min(n-i, int64(len(buf)/4))
		if _, err := d.f.ReadAt(buf[:c*4], d.batOff+i*4); err != nil {
			return fmt.Errorf("%s: read BAT: %w", d.path, err)
		}
		for j := int64(0); j < c; j++ {
			d.bat[i+j] = binary.BigEndian.Uint32(buf[j*4:])
		}
		i += c
	}
	metaEnd := max(int64(VHDFooterSize), hoff+vhdHeaderSize, d.batOff+batLen)
	d.metaEnd = metaEnd
	blocks, err := d.checkBlocks(hoff, batLen, fileSize)
	if err != nil {
		return err
	}
	end := metaEnd
	if len(blocks) > 0 {
		end = max(end, blocks[len(blocks)-1]+d.bitmapSize+d.blockSize)
	}
	// The footer belongs right after the last structure. After a crash
	// (see allocate) the file may end in a block without a footer, or
	// hold an orphan block: new blocks then go past everything.
	if tail := fileSize - VHDFooterSize; tail >= end && tail%512 == 0 {
		if ft, err := readFooterAt(d.f, tail); err == nil && ft.DiskType == VHDTypeDynamic {
			d.dataEnd, d.footerAtEnd = tail, true
			return nil
		}
	}
	d.dataEnd = vhdRoundUp(max(end, fileSize), 512)
	return nil
}

// checkBlocks verifies that every block lies inside the file, after the
// metadata, and apart from every other block; it returns their sorted
// offsets.
func (d *vhdDynamic) checkBlocks(hoff, batLen, fileSize int64) ([]int64, error) {
	span := d.bitmapSize + d.blockSize
	var offs []int64
	for i, e := range d.bat {
		if e == vhdUnusedEntry {
			continue
		}
		off := int64(e) * 512
		switch {
		case off+span > fileSize:
			return nil, corruptf(d.path, "BAT entry %d points to a block at %d that ends past the end of the %d-byte file", i, off, fileSize)
		case off < VHDFooterSize || vhdOverlaps(off, span, hoff, vhdHeaderSize) || vhdOverlaps(off, span, d.batOff, batLen):
			return nil, corruptf(d.path, "BAT entry %d points to a block at %d that overlaps the footer copy, the header or the BAT", i, off)
		}
		offs = append(offs, off)
	}
	slices.Sort(offs)
	for i := 1; i < len(offs); i++ {
		if offs[i]-offs[i-1] < span {
			return nil, corruptf(d.path, "two BAT entries point to overlapping blocks at %d and %d", offs[i-1], offs[i])
		}
	}
	return offs, nil
}

func vhdOverlaps(a, alen, b, blen int64) bool { return a < b+blen && b < a+alen }

// writeDynamicVHD lays out a new dynamic VHD as qemu and Hyper-V do:
// footer copy, header at 512, BAT at 1536 (all entries unused), footer.
func writeDynamicVHD(f *os.File, path string, size, blockSize int64) (Image, error) {
	if blockSize == 0 {
		blockSize = vhdDefaultBlockSize
	}
	ft, err := newVHDFooter(VHDTypeDynamic, size, VHDFooterSize)
	if err != nil {
		return nil, err
	}
	n := (size + blockSize - 1) / blockSize
	h := &vhdHeader{TableOffset: 3 * 512, Version: 0x00010000, MaxTableEntries: uint32(n), BlockSize: uint32(blockSize)}
	fb := ft.Marshal()
	if _, err := f.WriteAt(fb, 0); err != nil {
		return nil, fmt.Errorf("%s: write footer copy: %w", path, err)
	}
	if _, err := f.WriteAt(h.marshal(), VHDFooterSize); err != nil {
		return nil, fmt.Errorf("%s: write dynamic header: %w", path, err)
	}
	batLen := vhdRoundUp(n*4, 512)
	buf := make([]byte, min(batLen, 1<<20))
	for i := range buf {
		buf[i] = 0xff
	}
	for off := int64(0); off < batLen; {
		c := min(batLen-off, int64(len(buf)))
		if _, err := f.WriteAt(buf[:c], int64(h.TableOffset)+off); err != nil {
			return nil, fmt.Errorf("%s: write BAT: %w", path, err)
		}
		off += c
	}
	if _, err := f.WriteAt(fb, int64(h.TableOffset)+batLen); err != nil {
		return nil, fmt.Errorf("%s: write footer: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return openDynamicVHD(f, path, false, ft, false, st.Size())
}

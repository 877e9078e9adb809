package vdisk

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf16"
)

// Layout of the files createVHDX writes (all 1 MiB aligned, as Hyper-V):
// header section, 1 MiB log, 1 MiB metadata region, BAT, then blocks.
const (
	createLogOff  = 1 << 20
	createMetaOff = 2 << 20
	createMetaLen = 1 << 20
	createBATOff  = 3 << 20
)

// createVHDX creates a new VHDX file (it refuses to replace an existing
// one) and returns it open for writing.
func createVHDX(path string, o CreateOptions) (Image, error) {
	g, err := vhdxCreateGeometry(o)
	if err != nil {
		return nil, fmt.Errorf("create VHDX %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) // the disk's contents: the user's only
	if err != nil {
		return nil, fmt.Errorf("create VHDX %s: %w", path, err)
	}
	v, err := writeNewVHDX(path, f, g, o.Fixed, nil)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("create VHDX %s: %w", path, err)
	}
	return v, nil
}

// vhdxCreateGeometry applies the defaults and checks the options.
func vhdxCreateGeometry(o CreateOptions) (vhdxGeometry, error) {
	bs, logical, physical := o.BlockSize, o.LogicalSector, o.PhysicalSector
	if bs == 0 {
		bs = vhdxDefaultBlock
	}
	if logical == 0 {
		logical = 512
	}
	if physical == 0 {
		physical = 4096
	}
	switch {
	case !isPow2(bs) || bs < vhdxMinBlock || bs > vhdxMaxBlock:
		return vhdxGeometry{}, fmt.Errorf("%w: block size %d: VHDX needs a power of two from 1 MiB to 256 MiB", ErrUnsupported, bs)
	case logical != 512 && logical != 4096:
		return vhdxGeometry{}, fmt.Errorf("%w: logical sector size %d: VHDX needs 512 or 4096", ErrUnsupported, logical)
	case physical != 512 && physical != 4096 || physical < logical:
		return vhdxGeometry{}, fmt.Errorf("%w: physical sector size %d: VHDX needs 512 or 4096, at least the logical size", ErrUnsupported, physical)
	case o.Size <= 0 || o.Size > vhdxMaxVirtualSize:
		return vhdxGeometry{}, fmt.Errorf("%w: size %d: VHDX holds 1 byte to 64 TiB", ErrOutOfRange, o.Size)
	case o.Size%int64(logical) != 0:
		return vhdxGeometry{}, fmt.Errorf("%w: size %d is not a whole number of %d-byte sectors", ErrOutOfRange, o.Size, logical)
	}
	return newGeometry(o.Size, bs, logical, physical), nil
}

// writeNewVHDX writes every structure of an empty disk, makes it durable,
// and opens the result (which re-validates it). With a parent locator it
// is a differencing disk (g must then have a differencing BAT), opened
// without its parent.
func writeNewVHDX(path string, f *os.File, g vhdxGeometry, fixed bool, locator []byte) (*vhdxImage, error) {
	batLen := roundUp(g.batEntries*8, vhdxMiB)
	dataOff := int64(createBATOff) + batLen
	size := dataOff
	if fixed {
		size += g.dataBlocks * g.blockSize
	}
	if err := f.Truncate(size); err != nil {
		return nil, err
	}
	ident := make([]byte, 8, 8+2*16)
	copy(ident, sigFile)
	for _, u := range utf16.Encode([]rune("failback")) {
		ident = binary.LittleEndian.AppendUint16(ident, u)
	}
	h := vhdxHeader{Seq: 1, FileWriteGUID: newGUID(), DataWriteGUID: newGUID(), Version: 1,
		LogLength: vhdxDefaultLog, LogOffset: createLogOff}
	h2 := h
	h2.Seq = 2
	regions := encodeRegionTable([]regionEntry{
		{ID: guidBATRegion, Off: createBATOff, Len: uint32(batLen), Required: true},
		{ID: guidMetaRegion, Off: createMetaOff, Len: createMetaLen, Required: true},
	})
	writes := []struct {
		b   []byte
		off int64
	}{
		{ident, 0}, {h.encode(), vhdxHeader1Off}, {h2.encode(), vhdxHeader2Off},
		{regions, vhdxRegion1Off}, {regions, vhdxRegion2Off}, {encodeMetadata(g, fixed, locator), createMetaOff},
	}
	for _, w := range writes {
		if _, err := f.WriteAt(w.b, w.off); err != nil {
			return nil, err
		}
	}
	if fixed {
		if err := writeFixedBAT(f, g, dataOff); err != nil {
			return nil, err
		}
		if err := preallocate(f, dataOff, g.dataBlocks*g.blockSize); err != nil {
			return nil, fmt.Errorf("reserve %d bytes for the fixed disk: %w", g.dataBlocks*g.blockSize, err)
		}
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	syncDir(filepath.Dir(path))
	return openVHDXFile(path, f, false, locator != nil)
}

// encodeMetadata returns the metadata table followed by the five items (and
// a differencing disk's parent locator), as the first bytes of the
// metadata region.
func encodeMetadata(g vhdxGeometry, fixed bool, locator []byte) []byte {
	const base = vhdxTableSize
	items := make([]byte, 40)
	le := binary.LittleEndian
	le.PutUint32(items[0:], uint32(g.blockSize))
	if fixed {
		le.PutUint32(items[4:], fileParamLeaveAllocated)
	}
	if locator != nil {
		le.PutUint32(items[4:], fileParamHasParent)
	}
	le.PutUint64(items[8:], uint64(g.size))
	page83 := newGUID()
	copy(items[16:32], page83[:])
	le.PutUint32(items[32:], uint32(g.logical))
	le.PutUint32(items[36:], uint32(g.physical))
	disk := uint32(metaIsVirtualDisk | metaIsRequired)
	entries := []metaEntry{
		{ID: guidFileParams, Off: base, Len: 8, Flags: metaIsRequired},
		{ID: guidVirtualSize, Off: base + 8, Len: 8, Flags: disk},
		{ID: guidPage83, Off: base + 16, Len: 16, Flags: disk},
		{ID: guidLogicalSector, Off: base + 32, Len: 4, Flags: disk},
		{ID: guidPhysicalSector, Off: base + 36, Len: 4, Flags: disk},
	}
	if locator != nil {
		// MS-VHDX 2.6.2: the parent locator is required, not virtual-disk.
		entries = append(entries, metaEntry{ID: guidParentLocator, Off: base + 40, Len: uint32(len(locator)), Flags: metaIsRequired})
		items = append(items, locator...)
	}
	return append(encodeMetaTable(entries), items...)
}

// writeFixedBAT marks every block present, laid out in order after the BAT.
func writeFixedBAT(f *os.File, g vhdxGeometry, dataOff int64) error {
	buf := make([]byte, 0, 1<<20)
	written := int64(0)
	for idx := range g.batEntries {
		var e uint64
		if !g.isSectorBitmap(idx) {
			e = uint64(dataOff+g.payloadBlock(idx)*g.blockSize) | batFullyPresent
		}
		buf = binary.LittleEndian.AppendUint64(buf, e)
		if len(buf) == cap(buf) || idx == g.batEntries-1 {
			if _, err := f.WriteAt(buf, createBATOff+written); err != nil {
				return err
			}
			written += int64(len(buf))
			buf = buf[:0]
		}
	}
	return nil
}

// syncDir makes a new file's directory entry durable (best effort: not
// every platform can fsync a directory).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

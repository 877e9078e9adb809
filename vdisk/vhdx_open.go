package vdisk

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
)

// openVHDX opens a VHDX image. A writable open replays a non-empty log
// first; a read-only open replays it in memory, leaving the file untouched.
func openVHDX(path string, o OpenOptions) (Image, error) {
	v, err := openVHDXPath(path, o.ReadOnly, false)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// openVHDXPath opens the file and parses it (a differencing file only with
// chain, and then without its parent).
func openVHDXPath(path string, readOnly, chain bool) (*vhdxImage, error) {
	f, err := openFile(path, readOnly)
	if err != nil {
		return nil, err
	}
	v, err := openVHDXFile(path, f, readOnly, chain)
	if err != nil {
		f.Close()
		return nil, err
	}
	return v, nil
}

// openVHDXFile parses and validates every structure, in the order the
// format requires: headers, then the log (replayed before anything it may
// describe is read), then region tables, metadata and the BAT. A
// differencing file is refused unless chain is set (OpenChain, which then
// attaches its parent).
func openVHDXFile(path string, f *os.File, readOnly, chain bool) (*vhdxImage, error) {
	v := &vhdxImage{path: path, f: f, readOnly: readOnly, chain: chain, inflight: map[int64]chan struct{}{}, dirty: map[int64]struct{}{}}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open VHDX %s: %w", path, err)
	}
	v.fileSize = st.Size()
	if v.fileSize < vhdxHeaderSection {
		return nil, corruptf(path, "file is %d bytes, shorter than the 1 MiB VHDX header section", v.fileSize)
	}
	sig := make([]byte, 8)
	if err := v.pread(sig, 0); err != nil {
		return nil, err
	}
	if string(sig) != sigFile {
		return nil, corruptf(path, "no %q signature at offset 0; not a VHDX file", sigFile)
	}
	if err := v.loadHeaders(); err != nil {
		return nil, err
	}
	if !readOnly && v.logLen == 0 {
		return nil, fmt.Errorf("%s: %w: this VHDX has no log, so its metadata cannot be updated crash-safely; open it read-only", path, ErrUnsupported)
	}
	if err := v.loadLog(); err != nil {
		return nil, err
	}
	if err := v.loadRegions(); err != nil {
		return nil, err
	}
	if err := v.loadMetadata(); err != nil {
		return nil, err
	}
	if err := v.loadBAT(); err != nil {
		return nil, err
	}
	v.fileEnd = max(v.fileEnd, roundUp(v.fileSize, vhdxMiB))
	v.fileLen = v.fileSize
	return v, nil
}

// pread reads exactly len(p) bytes of the file at off. Bytes past the end
// of the file read as zeros, as they would after the extension a replayed
// log asks for; an in-memory log replay (read-only opens) is applied on top.
func (v *vhdxImage) pread(p []byte, off int64) error {
	n, err := v.f.ReadAt(p, off)
	if err == io.EOF {
		clear(p[n:])
		err = nil
	}
	if err != nil {
		return fmt.Errorf("read VHDX %s at offset %d: %w", v.path, off, err)
	}
	v.overlay.apply(p, off)
	return nil
}

// loadHeaders picks the current header: the valid copy with the higher
// sequence number.
func (v *vhdxImage) loadHeaders() error {
	var hs [2]vhdxHeader
	var ok [2]bool
	for i, off := range []int64{vhdxHeader1Off, vhdxHeader2Off} {
		b := make([]byte, vhdxHeaderSize)
		if err := v.pread(b, off); err != nil {
			return err
		}
		hs[i], ok[i] = parseHeader(b)
		ok[i] = ok[i] && hs[i].Version == 1
	}
	switch {
	case ok[0] && ok[1] && hs[0].Seq == hs[1].Seq:
		if hs[0] != hs[1] {
			return corruptf(v.path, "both headers have sequence number %d but differ", hs[0].Seq)
		}
		v.hdrSlot = 0
	case ok[0] && (!ok[1] || hs[0].Seq > hs[1].Seq):
		v.hdrSlot = 0
	case ok[1]:
		v.hdrSlot = 1
	default:
		return corruptf(v.path, "neither header copy is valid (bad signature, version or CRC-32C)")
	}
	h := hs[v.hdrSlot]
	v.hdr = h
	if h.LogVersion != 0 {
		return fmt.Errorf("%s: %w: VHDX log version %d (only 0 exists)", v.path, ErrUnsupported, h.LogVersion)
	}
	if h.LogLength%vhdxMiB != 0 {
		return corruptf(v.path, "log length %d is not a multiple of 1 MiB", h.LogLength)
	}
	if h.LogLength > 0 {
		if h.LogOffset%vhdxMiB != 0 || h.LogOffset < vhdxHeaderSection {
			return corruptf(v.path, "log offset %d is not a 1 MiB multiple past the header section", h.LogOffset)
		}
		if h.LogOffset > uint64(v.fileSize) || uint64(v.fileSize)-h.LogOffset < uint64(h.LogLength) {
			return corruptf(v.path, "log [%d, +%d) runs past the end of the %d-byte file", h.LogOffset, h.LogLength, v.fileSize)
		}
		v.logOff, v.logLen = int64(h.LogOffset), int64(h.LogLength)
	}
	return nil
}

// extent is a named byte range of the file, for overlap checks.
type fileExtent struct {
	name     string
	off, len int64
}

// loadRegions reads the region table (the second copy if the first is
// damaged) and checks that regions are aligned, inside the file and apart.
func (v *vhdxImage) loadRegions() error {
	b := make([]byte, vhdxTableSize)
	var entries []regionEntry
	ok := false
	for _, off := range []int64{vhdxRegion1Off, vhdxRegion2Off} {
		if err := v.pread(b, off); err != nil {
			return err
		}
		if entries, ok = parseRegionTable(b); ok {
			break
		}
	}
	if !ok {
		return corruptf(v.path, "neither region table copy is valid (bad signature, entry count or CRC-32C)")
	}
	ext := []fileExtent{{"header section", 0, vhdxHeaderSection}}
	if v.logLen > 0 {
		ext = append(ext, fileExtent{"log", v.logOff, v.logLen})
	}
	var haveBAT, haveMeta bool
	for _, r := range entries {
		name := fmt.Sprintf("region %x", r.ID)
		switch r.ID {
		case guidBATRegion:
			if haveBAT {
				return corruptf(v.path, "two BAT regions")
			}
			haveBAT, name = true, "BAT region"
			v.batOff, v.batLen = int64(r.Off), int64(r.Len)
		case guidMetaRegion:
			if haveMeta {
				return corruptf(v.path, "two metadata regions")
			}
			haveMeta, name = true, "metadata region"
			v.metaOff, v.metaLen = int64(r.Off), int64(r.Len)
		default:
			if r.Required {
				return fmt.Errorf("%s: %w: required region %x is unknown to this tool", v.path, ErrUnsupported, r.ID)
			}
		}
		if r.Off%vhdxMiB != 0 || r.Len%vhdxMiB != 0 || r.Len == 0 || r.Off < vhdxHeaderSection {
			return corruptf(v.path, "%s [%d, +%d) is not 1 MiB aligned past the header section", name, r.Off, r.Len)
		}
		if r.Off > uint64(v.fileSize) || uint64(v.fileSize)-r.Off < uint64(r.Len) {
			return corruptf(v.path, "%s [%d, +%d) runs past the end of the %d-byte file", name, r.Off, r.Len, v.fileSize)
		}
		ext = append(ext, fileExtent{name, int64(r.Off), int64(r.Len)})
	}
	if !haveBAT || !haveMeta {
		return corruptf(v.path, "region table lacks the BAT or metadata region")
	}
	slices.SortFunc(ext, func(a, b fileExtent) int { return cmp.Compare(a.off, b.off) })
	for i := 1; i < len(ext); i++ {
		if ext[i].off < ext[i-1].off+ext[i-1].len {
			return corruptf(v.path, "%s and %s overlap", ext[i-1].name, ext[i].name)
		}
	}
	v.regions = ext
	return nil
}

// loadMetadata reads the metadata table and the five required items.
func (v *vhdxImage) loadMetadata() error {
	b := make([]byte, vhdxTableSize)
	if err := v.pread(b, v.metaOff); err != nil {
		return err
	}
	entries, ok := parseMetaTable(b)
	if !ok {
		return corruptf(v.path, "metadata table has a bad signature or more than %d entries", vhdxMaxEntries)
	}
	known := map[guid]string{
		guidFileParams: "file parameters", guidVirtualSize: "virtual disk size", guidPage83: "page 83 data",
		guidLogicalSector: "logical sector size", guidPhysicalSector: "physical sector size", guidParentLocator: "parent locator",
	}
	items := map[guid]metaEntry{}
	var used []fileExtent
	for _, m := range entries {
		name, isKnown := known[m.ID]
		if !isKnown {
			name = fmt.Sprintf("metadata item %x", m.ID)
		}
		if _, dup := items[m.ID]; dup && isKnown {
			return corruptf(v.path, "%s appears twice in the metadata table", name)
		}
		if m.Len == 0 {
			if isKnown {
				return corruptf(v.path, "%s is empty", name)
			}
			continue
		}
		if m.Off < vhdxTableSize || m.Len > vhdxMaxItem || int64(m.Off)+int64(m.Len) > v.metaLen {
			return corruptf(v.path, "%s [%d, +%d) lies outside the item area [64 KiB, %d) of the metadata region", name, m.Off, m.Len, v.metaLen)
		}
		used = append(used, fileExtent{name, int64(m.Off), int64(m.Len)})
		if !isKnown && m.Flags&metaIsRequired != 0 && m.Flags&metaIsUser == 0 {
			return fmt.Errorf("%s: %w: required %s is unknown to this tool", v.path, ErrUnsupported, name)
		}
		items[m.ID] = m
	}
	slices.SortFunc(used, func(a, b fileExtent) int { return cmp.Compare(a.off, b.off) })
	for i := 1; i < len(used); i++ {
		if used[i].off < used[i-1].off+used[i-1].len {
			return corruptf(v.path, "%s and %s overlap", used[i-1].name, used[i].name)
		}
	}
	read := func(id guid, n int) ([]byte, error) {
		m, ok := items[id]
		if !ok {
			return nil, corruptf(v.path, "required metadata item %q is missing", known[id])
		}
		if int(m.Len) < n {
			return nil, corruptf(v.path, "metadata item %q is %d bytes, needs %d", known[id], m.Len, n)
		}
		p := make([]byte, n)
		return p, v.pread(p, v.metaOff+int64(m.Off))
	}
	fp, err := read(guidFileParams, 8)
	if err != nil {
		return err
	}
	blockSize := int64(binary.LittleEndian.Uint32(fp))
	flags := binary.LittleEndian.Uint32(fp[4:])
	if _, ok := items[guidParentLocator]; ok || flags&fileParamHasParent != 0 {
		if !v.chain {
			return fmt.Errorf("%s: %w: %w (it has a parent disk); merge it into its parent first (Hyper-V Edit Disk, or Merge-VHD)", v.path, ErrUnsupported, ErrDifferencing)
		}
		if err := v.loadLocator(items, flags); err != nil {
			return err
		}
	}
	v.fixed = flags&fileParamLeaveAllocated != 0 && v.diff == nil // ignored when HasParent is set
	vs, err := read(guidVirtualSize, 8)
	if err != nil {
		return err
	}
	ls, err := read(guidLogicalSector, 4)
	if err != nil {
		return err
	}
	ps, err := read(guidPhysicalSector, 4)
	if err != nil {
		return err
	}
	p83, err := read(guidPage83, 16)
	if err != nil {
		return err
	}
	copy(v.page83[:], p83)
	size := binary.LittleEndian.Uint64(vs)
	logical := binary.LittleEndian.Uint32(ls)
	physical := binary.LittleEndian.Uint32(ps)
	if !isPow2(blockSize) || blockSize < vhdxMinBlock || blockSize > vhdxMaxBlock {
		return corruptf(v.path, "block size %d is not a power of two between 1 MiB and 256 MiB", blockSize)
	}
	if logical != 512 && logical != 4096 {
		return corruptf(v.path, "logical sector size %d is neither 512 nor 4096", logical)
	}
	if physical != 512 && physical != 4096 {
		return corruptf(v.path, "physical sector size %d is neither 512 nor 4096", physical)
	}
	if size == 0 || size > vhdxMaxVirtualSize || size%uint64(logical) != 0 {
		return corruptf(v.path, "virtual size %d is not a multiple of %d between 1 and 64 TiB", size, logical)
	}
	v.g = newGeometry(int64(size), blockSize, int(logical), int(physical))
	if v.diff != nil {
		v.g.differencing()
		v.diff.sb = make([]atomic.Uint64, v.g.sbBlocks())
	}
	return nil
}

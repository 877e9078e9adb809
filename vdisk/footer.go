package vdisk

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"
)

// VHDFooterSize is the size of the footer that ends every VHD (and every
// Azure page blob holding a disk).
const VHDFooterSize = 512

// VHD disk types (footer field "Disk Type").
const (
	VHDTypeFixed        uint32 = 2
	VHDTypeDynamic      uint32 = 3
	VHDTypeDifferencing uint32 = 4
)

// AzureMaxVHDSize is the largest virtual size a page blob can hold as a
// fixed VHD: the 8 TiB page-blob limit less the 512-byte footer, rounded
// down to a whole MiB as Azure also requires.
const AzureMaxVHDSize = 8<<40 - 1<<20

const (
	vhdCookie        = "conectix"
	vhdVersion       = 0x00010000
	vhdFeatures      = 0x00000002 // the "reserved" bit the spec says is always set
	vhdFixedOffset   = ^uint64(0)
	vhdChecksumField = 64
	// vhdMaxSize bounds what we accept from a footer: the spec's CHS
	// maximum is about 2 TiB, but Hyper-V and Azure use CurrentSize up to
	// 2040 GiB for VHD and page blobs to 8 TiB; 64 TiB leaves room and
	// still refuses absurd claims.
	vhdMaxSize = 64 << 40
)

// vhdEpoch is the zero of the footer's timestamp.
var vhdEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// VHDFooter is the decoded 512-byte VHD footer (big-endian on disk).
type VHDFooter struct {
	Features      uint32
	FormatVersion uint32
	// DataOffset is where the dynamic disk header is; all ones for fixed.
	DataOffset uint64
	// Timestamp is the creation time, stored as seconds since 2000-01-01.
	Timestamp      time.Time
	CreatorApp     [4]byte
	CreatorVersion uint32
	CreatorHostOS  [4]byte
	OriginalSize   uint64
	// CurrentSize is the virtual size; readers use it (as Hyper-V, Azure
	// and qemu with force_size do) rather than the CHS geometry.
	CurrentSize     uint64
	Cylinders       uint16
	Heads           uint8
	SectorsPerTrack uint8
	DiskType        uint32
	// Checksum is the one's complement of the byte sum of the footer
	// without this field. Marshal recomputes it.
	Checksum   uint32
	UniqueID   [16]byte
	SavedState uint8
}

// ParseVHDFooter decodes and validates a footer. Errors wrap ErrCorrupt
// (or ErrUnsupported for a format version this package does not know).
func ParseVHDFooter(b []byte) (*VHDFooter, error) {
	if len(b) < VHDFooterSize {
		return nil, fmt.Errorf("%w: VHD footer is %d bytes, want %d", ErrCorrupt, len(b), VHDFooterSize)
	}
	b = b[:VHDFooterSize]
	if string(b[0:8]) != vhdCookie {
		return nil, fmt.Errorf("%w: VHD footer cookie is %q, want %q (not a VHD, or the footer is damaged)", ErrCorrupt, b[0:8], vhdCookie)
	}
	be := binary.BigEndian
	f := &VHDFooter{
		Features:        be.Uint32(b[8:]),
		FormatVersion:   be.Uint32(b[12:]),
		DataOffset:      be.Uint64(b[16:]),
		Timestamp:       vhdEpoch.Add(time.Duration(be.Uint32(b[24:])) * time.Second),
		CreatorVersion:  be.Uint32(b[32:]),
		OriginalSize:    be.Uint64(b[40:]),
		CurrentSize:     be.Uint64(b[48:]),
		Cylinders:       be.Uint16(b[56:]),
		Heads:           b[58],
		SectorsPerTrack: b[59],
		DiskType:        be.Uint32(b[60:]),
		Checksum:        be.Uint32(b[64:]),
		SavedState:      b[84],
	}
	copy(f.CreatorApp[:], b[28:32])
	copy(f.CreatorHostOS[:], b[36:40])
	copy(f.UniqueID[:], b[68:84])
	if sum := vhdChecksum(b, vhdChecksumField); sum != f.Checksum {
		return nil, fmt.Errorf("%w: VHD footer checksum is %#08x, computed %#08x (footer damaged)", ErrCorrupt, f.Checksum, sum)
	}
	if f.FormatVersion>>16 != 1 {
		return nil, fmt.Errorf("%w: VHD format version %#08x (only 1.x exists)", ErrCorrupt, f.FormatVersion)
	}
	switch f.DiskType {
	case VHDTypeFixed:
		// Some tools write 0 rather than all ones; both mean "no header".
	case VHDTypeDynamic, VHDTypeDifferencing:
		if f.DataOffset == vhdFixedOffset || f.DataOffset < VHDFooterSize || f.DataOffset%VHDFooterSize != 0 {
			return nil, fmt.Errorf("%w: VHD dynamic header offset %#x is not a 512-byte aligned offset past the footer copy", ErrCorrupt, f.DataOffset)
		}
	default:
		return nil, fmt.Errorf("%w: VHD disk type %d (want 2 fixed, 3 dynamic or 4 differencing)", ErrCorrupt, f.DiskType)
	}
	if f.CurrentSize == 0 || f.CurrentSize%512 != 0 {
		return nil, fmt.Errorf("%w: VHD virtual size %d is not a positive multiple of 512", ErrCorrupt, f.CurrentSize)
	}
	if f.CurrentSize > vhdMaxSize {
		return nil, fmt.Errorf("%w: VHD virtual size %d is larger than any VHD can be (%d)", ErrCorrupt, f.CurrentSize, uint64(vhdMaxSize))
	}
	return f, nil
}

// Marshal encodes the footer, recomputing (and storing) its checksum.
func (f *VHDFooter) Marshal() []byte {
	b := make([]byte, VHDFooterSize)
	be := binary.BigEndian
	copy(b[0:8], vhdCookie)
	be.PutUint32(b[8:], f.Features)
	be.PutUint32(b[12:], f.FormatVersion)
	be.PutUint64(b[16:], f.DataOffset)
	be.PutUint32(b[24:], vhdTimestamp(f.Timestamp))
	copy(b[28:32], f.CreatorApp[:])
	be.PutUint32(b[32:], f.CreatorVersion)
	copy(b[36:40], f.CreatorHostOS[:])
	be.PutUint64(b[40:], f.OriginalSize)
	be.PutUint64(b[48:], f.CurrentSize)
	be.PutUint16(b[56:], f.Cylinders)
	b[58] = f.Heads
	b[59] = f.SectorsPerTrack
	be.PutUint32(b[60:], f.DiskType)
	copy(b[68:84], f.UniqueID[:])
	b[84] = f.SavedState
	f.Checksum = vhdChecksum(b, vhdChecksumField)
	be.PutUint32(b[64:], f.Checksum)
	return b
}

// newVHDFooter fills a footer for a new disk of the given type and size.
//
// The creator is "win " (Hyper-V) on purpose: readers such as qemu take
// the virtual size from CurrentSize only for creators they know do so, and
// from the CHS geometry otherwise, which would shrink sizes CHS cannot
// represent exactly.
func newVHDFooter(diskType uint32, size int64, dataOffset uint64) (*VHDFooter, error) {
	f := &VHDFooter{
		Features:       vhdFeatures,
		FormatVersion:  vhdVersion,
		DataOffset:     dataOffset,
		Timestamp:      time.Now().UTC().Truncate(time.Second),
		CreatorApp:     [4]byte{'w', 'i', 'n', ' '},
		CreatorVersion: 0x000A0000,
		CreatorHostOS:  [4]byte{'W', 'i', '2', 'k'},
		OriginalSize:   uint64(size),
		CurrentSize:    uint64(size),
		DiskType:       diskType,
	}
	f.Cylinders, f.Heads, f.SectorsPerTrack = VHDGeometry(size)
	if _, err := rand.Read(f.UniqueID[:]); err != nil {
		return nil, fmt.Errorf("VHD unique id: %w", err)
	}
	return f, nil
}

// NewFixedVHDFooter returns the footer of an Azure-compatible fixed VHD of
// the given virtual size: the 512 bytes that follow the disk's data in a
// page blob.
func NewFixedVHDFooter(size int64) ([]byte, error) {
	if err := AzureCompatibleSize(size); err != nil {
		return nil, err
	}
	f, err := newVHDFooter(VHDTypeFixed, size, vhdFixedOffset)
	if err != nil {
		return nil, err
	}
	return f.Marshal(), nil
}

// AzureCompatibleSize returns nil when Azure accepts a disk of this
// virtual size as a fixed VHD page blob, and otherwise says why and which
// sizes would do.
func AzureCompatibleSize(size int64) error {
	const mib = 1 << 20
	switch {
	case size <= 0:
		return fmt.Errorf("virtual size %d: Azure needs a positive whole number of MiB (at least 1 MiB = %d bytes)", size, mib)
	case size > AzureMaxVHDSize:
		return fmt.Errorf("virtual size %d is over the Azure page blob limit for a VHD: 8 TiB less the 512-byte footer, in whole MiB, is %d bytes; use at most that", size, int64(AzureMaxVHDSize))
	case size%mib != 0:
		down := size / mib * mib
		up := down + mib
		if down == 0 {
			return fmt.Errorf("virtual size %d is not a whole number of MiB, which Azure requires; use %d (1 MiB)", size, up)
		}
		return fmt.Errorf("virtual size %d is not a whole number of MiB, which Azure requires; use %d or %d", size, down, up)
	}
	return nil
}

// VHDGeometry computes the CHS geometry of a disk of the given size with
// the algorithm of the VHD specification (appendix "CHS calculation").
func VHDGeometry(size int64) (cylinders uint16, heads, sectorsPerTrack uint8) {
	total := size / 512
	if total < 0 {
		total = 0
	}
	if total > 65535*16*255 {
		total = 65535 * 16 * 255
	}
	var spt, hd, cth int64
	if total >= 65535*16*63 {
		spt, hd = 255, 16
		cth = total / spt
	} else {
		spt = 17
		cth = total / spt
		hd = (cth + 1023) / 1024
		if hd < 4 {
			hd = 4
		}
		if cth >= hd*1024 || hd > 16 {
			spt, hd = 31, 16
			cth = total / spt
		}
		if cth >= hd*1024 {
			spt, hd = 63, 16
			cth = total / spt
		}
	}
	return uint16(cth / hd), uint8(hd), uint8(spt)
}

// vhdChecksum is the one's complement of the byte sum of b, skipping the
// four checksum bytes at skip (the footer and dynamic header use the same
// rule).
func vhdChecksum(b []byte, skip int) uint32 {
	var sum uint32
	for i, c := range b {
		if i >= skip && i < skip+4 {
			continue
		}
		sum += uint32(c)
	}
	return ^sum
}

func vhdTimestamp(t time.Time) uint32 {
	if t.IsZero() || t.Before(vhdEpoch) {
		return 0
	}
	d := t.Sub(vhdEpoch) / time.Second
	if d > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(d)
}

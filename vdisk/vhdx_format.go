package vdisk

// On-disk structures of VHDX as MS-VHDX (v1.0) defines them: file
// identifier, the two headers, the two region tables, the metadata table and
// the BAT entry layout. Everything is little endian; GUIDs are stored in
// Microsoft's mixed-endian layout (first three fields little endian).

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strings"
)

const (
	vhdxMiB            = 1 << 20
	vhdxHeaderSection  = 1 << 20 // file id, headers and region tables live here
	vhdxHeader1Off     = 64 << 10
	vhdxHeader2Off     = 128 << 10
	vhdxRegion1Off     = 192 << 10
	vhdxRegion2Off     = 256 << 10
	vhdxHeaderSize     = 4 << 10  // the part of a header the checksum covers
	vhdxTableSize      = 64 << 10 // region table and metadata table
	vhdxMaxEntries     = 2047     // region and metadata table entries
	vhdxMaxItem        = 1 << 20  // largest metadata item
	vhdxMaxVirtualSize = 64 << 40 // the format's limit
	vhdxMinBlock       = 1 << 20
	vhdxMaxBlock       = 256 << 20
	vhdxDefaultBlock   = 32 << 20
	vhdxDefaultLog     = 1 << 20
	// vhdxMaxFileSize bounds every offset an image may claim: a 64 TiB disk
	// plus its BAT (512 MiB at most) and metadata fits well inside it.
	vhdxMaxFileSize = vhdxMaxVirtualSize + (1 << 40)
	// vhdxSectorsPerBlockLimit is 2^23, the chunk ratio's numerator.
	vhdxSectorsPerBlockLimit = 1 << 23
)

// Payload BAT entry states (bits 0-2); bits 20-63 hold the file offset in
// MiB.
const (
	batNotPresent       = 0
	batUndefined        = 1
	batZero             = 2
	batUnmapped         = 3
	batFullyPresent     = 6
	batPartiallyPresent = 7
	batStateMask        = 7
	batOffsetMask       = ^uint64(vhdxMiB - 1)
)

// Flags of the File Parameters metadata item.
const (
	fileParamLeaveAllocated = 1 << 0 // fixed disk: blocks stay allocated
	fileParamHasParent      = 1 << 1 // differencing disk
)

// Flags of a metadata table entry.
const (
	metaIsUser        = 1 << 0
	metaIsVirtualDisk = 1 << 1
	metaIsRequired    = 1 << 2
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// guid is a GUID as the file stores it.
type guid [16]byte

// mustGUID converts the textual form to the on-disk layout.
func mustGUID(s string) guid {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("vdisk: bad GUID literal " + s) // only for the constants below
	}
	var g guid
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:])
	return g
}

// newGUID returns a random (version 4) GUID.
func newGUID() guid {
	var g guid
	_, _ = rand.Read(g[:]) // crypto/rand.Read never fails on supported platforms
	g[7] = g[7]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}

func (g guid) isZero() bool { return g == guid{} }

var (
	guidBATRegion      = mustGUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
	guidMetaRegion     = mustGUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
	guidFileParams     = mustGUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	guidVirtualSize    = mustGUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	guidPage83         = mustGUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
	guidLogicalSector  = mustGUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	guidPhysicalSector = mustGUID("CDA348C7-445D-4471-9CC9-E9885251C556")
	guidParentLocator  = mustGUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
)

const (
	sigFile     = "vhdxfile"
	sigHeader   = "head"
	sigRegion   = "regi"
	sigMetadata = "metadata"
)

// checksumAt computes the CRC-32C of b with the 4-byte field at off taken as
// zero, as every VHDX checksum is defined.
func checksumAt(b []byte, off int) uint32 {
	var saved [4]byte
	copy(saved[:], b[off:off+4])
	clear(b[off : off+4])
	sum := crc32.Checksum(b, crc32c)
	copy(b[off:off+4], saved[:])
	return sum
}

// vhdxHeader is one of the two 4 KiB headers.
type vhdxHeader struct {
	Seq           uint64
	FileWriteGUID guid
	DataWriteGUID guid
	LogGUID       guid
	LogVersion    uint16
	Version       uint16
	LogLength     uint32
	LogOffset     uint64
}

// parseHeader decodes a 4 KiB header; ok is false when the signature or
// the checksum is wrong (a torn or never-written copy).
func parseHeader(b []byte) (h vhdxHeader, ok bool) {
	if len(b) < vhdxHeaderSize || string(b[0:4]) != sigHeader {
		return h, false
	}
	b = b[:vhdxHeaderSize]
	if binary.LittleEndian.Uint32(b[4:]) != checksumAt(b, 4) {
		return h, false
	}
	h.Seq = binary.LittleEndian.Uint64(b[8:])
	copy(h.FileWriteGUID[:], b[16:32])
	copy(h.DataWriteGUID[:], b[32:48])
	copy(h.LogGUID[:], b[48:64])
	h.LogVersion = binary.LittleEndian.Uint16(b[64:])
	h.Version = binary.LittleEndian.Uint16(b[66:])
	h.LogLength = binary.LittleEndian.Uint32(b[68:])
	h.LogOffset = binary.LittleEndian.Uint64(b[72:])
	return h, true
}

// encode returns the 4 KiB on-disk form with its checksum.
func (h vhdxHeader) encode() []byte {
	b := make([]byte, vhdxHeaderSize)
	copy(b, sigHeader)
	binary.LittleEndian.PutUint64(b[8:], h.Seq)
	copy(b[16:], h.FileWriteGUID[:])
	copy(b[32:], h.DataWriteGUID[:])
	copy(b[48:], h.LogGUID[:])
	binary.LittleEndian.PutUint16(b[64:], h.LogVersion)
	binary.LittleEndian.PutUint16(b[66:], h.Version)
	binary.LittleEndian.PutUint32(b[68:], h.LogLength)
	binary.LittleEndian.PutUint64(b[72:], h.LogOffset)
	binary.LittleEndian.PutUint32(b[4:], checksumAt(b, 4))
	return b
}

// regionEntry is one region table entry.
type regionEntry struct {
	ID       guid
	Off      uint64
	Len      uint32
	Required bool
}

// parseRegionTable decodes a 64 KiB region table; ok is false when the
// signature or checksum is wrong or the entry count is impossible.
func parseRegionTable(b []byte) (entries []regionEntry, ok bool) {
	if len(b) < vhdxTableSize || string(b[0:4]) != sigRegion {
		return nil, false
	}
	b = b[:vhdxTableSize]
	if binary.LittleEndian.Uint32(b[4:]) != checksumAt(b, 4) {
		return nil, false
	}
	n := binary.LittleEndian.Uint32(b[8:])
	if n > vhdxMaxEntries {
		return nil, false
	}
	for i := range int(n) {
		e := b[16+32*i:]
		var r regionEntry
		copy(r.ID[:], e[0:16])
		r.Off = binary.LittleEndian.Uint64(e[16:])
		r.Len = binary.LittleEndian.Uint32(e[24:])
		r.Required = binary.LittleEndian.Uint32(e[28:])&1 != 0
		entries = append(entries, r)
	}
	return entries, true
}

// encodeRegionTable returns the 64 KiB on-disk table with its checksum.
func encodeRegionTable(entries []regionEntry) []byte {
	b := make([]byte, vhdxTableSize)
	copy(b, sigRegion)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(entries)))
	for i, r := range entries {
		e := b[16+32*i:]
		copy(e[0:16], r.ID[:])
		binary.LittleEndian.PutUint64(e[16:], r.Off)
		binary.LittleEndian.PutUint32(e[24:], r.Len)
		if r.Required {
			binary.LittleEndian.PutUint32(e[28:], 1)
		}
	}
	binary.LittleEndian.PutUint32(b[4:], checksumAt(b, 4))
	return b
}

// metaEntry is one metadata table entry; Off is relative to the start of
// the metadata region.
type metaEntry struct {
	ID    guid
	Off   uint32
	Len   uint32
	Flags uint32
}

// parseMetaTable decodes the 64 KiB metadata table (it has no checksum).
func parseMetaTable(b []byte) ([]metaEntry, bool) {
	if len(b) < vhdxTableSize || string(b[0:8]) != sigMetadata {
		return nil, false
	}
	n := binary.LittleEndian.Uint16(b[10:])
	if n > vhdxMaxEntries {
		return nil, false
	}
	entries := make([]metaEntry, 0, n)
	for i := range int(n) {
		e := b[32+32*i:]
		var m metaEntry
		copy(m.ID[:], e[0:16])
		m.Off = binary.LittleEndian.Uint32(e[16:])
		m.Len = binary.LittleEndian.Uint32(e[20:])
		m.Flags = binary.LittleEndian.Uint32(e[24:])
		entries = append(entries, m)
	}
	return entries, true
}

// encodeMetaTable returns the 64 KiB on-disk metadata table.
func encodeMetaTable(entries []metaEntry) []byte {
	b := make([]byte, vhdxTableSize)
	copy(b, sigMetadata)
	binary.LittleEndian.PutUint16(b[10:], uint16(len(entries)))
	for i, m := range entries {
		e := b[32+32*i:]
		copy(e[0:16], m.ID[:])
		binary.LittleEndian.PutUint32(e[16:], m.Off)
		binary.LittleEndian.PutUint32(e[20:], m.Len)
		binary.LittleEndian.PutUint32(e[24:], m.Flags)
	}
	return b
}

// vhdxGeometry is what the metadata says about the disk, and the BAT layout
// that follows from it.
type vhdxGeometry struct {
	size       int64 // virtual size
	blockSize  int64
	blockShift uint
	logical    int
	physical   int
	chunkRatio int64 // payload blocks per sector bitmap block
	dataBlocks int64
	batEntries int64 // payload plus interleaved sector bitmap entries
}

// newGeometry derives the BAT layout; the inputs must already be validated.
func newGeometry(size, blockSize int64, logical, physical int) vhdxGeometry {
	g := vhdxGeometry{size: size, blockSize: blockSize, logical: logical, physical: physical}
	for int64(1)<<g.blockShift < blockSize {
		g.blockShift++
	}
	g.chunkRatio = vhdxSectorsPerBlockLimit * int64(logical) / blockSize
	g.dataBlocks = (size + blockSize - 1) / blockSize
	// MS-VHDX 2.5: a non-differencing disk's BAT ends with the last payload
	// entry, so the final chunk has no trailing sector bitmap entry.
	g.batEntries = g.dataBlocks + (g.dataBlocks-1)/g.chunkRatio
	return g
}

// batIndex is the BAT entry index of payload block blk: after every
// chunkRatio payload entries comes one sector bitmap entry.
func (g vhdxGeometry) batIndex(blk int64) int64 { return blk + blk/g.chunkRatio }

// isSectorBitmap tells whether BAT entry idx is a sector bitmap entry.
func (g vhdxGeometry) isSectorBitmap(idx int64) bool { return (idx+1)%(g.chunkRatio+1) == 0 }

// payloadBlock is the payload block of BAT entry idx (not a bitmap entry).
func (g vhdxGeometry) payloadBlock(idx int64) int64 { return idx - idx/(g.chunkRatio+1) }

// blockBytes is how many virtual bytes block blk holds (the last may be
// short).
func (g vhdxGeometry) blockBytes(blk int64) int64 {
	return min(g.blockSize, g.size-blk*g.blockSize)
}

func isPow2(n int64) bool { return n > 0 && n&(n-1) == 0 }

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

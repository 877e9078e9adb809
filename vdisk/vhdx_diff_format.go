package vdisk

// On-disk structures that only differencing VHDX files use (MS-VHDX 2.5,
// 2.6.2.6): the parent locator metadata item, the BAT length of a
// differencing file and the sector bitmap layout.
//
// A differencing file's BAT has a sector bitmap entry after every chunk,
// the last one included (2.5: "the last BAT entry must be able to locate
// the last sector bitmap block that contains the last payload sector").
// A sector bitmap block is 1 MiB and holds one bit per logical sector of
// its chunk (2^23 sectors): 1 reads the sector from this file, 0 from the
// parent.

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
)

const (
	// vhdxSBBlock is the size of a sector bitmap block.
	vhdxSBBlock = 1 << 20
	// vhdxDiffDefaultBlock is the payload block size Hyper-V gives a new
	// differencing disk: only the blocks the child writes take space, so
	// small blocks keep it small.
	vhdxDiffDefaultBlock = 2 << 20
	// vhdxMaxChain bounds a chain of parents (and catches loops).
	vhdxMaxChain = 16
	// Sector bitmap BAT entry states (2.5.1.2).
	sbNotPresent = 0
	sbPresent    = 6
)

// guidLocatorVHDX is the only parent locator type MS-VHDX defines: the
// parent is another VHDX file.
var guidLocatorVHDX = mustGUID("B04AEFB7-D19E-4A81-B789-25B8E9445913")

// Keys of the VHDX parent locator (2.6.2.6.3).
const (
	locLinkage  = "parent_linkage"
	locLinkage2 = "parent_linkage2"
	locRelative = "relative_path"
	locVolume   = "volume_path"
	locAbsolute = "absolute_win32_path"
)

// differencing switches g to a differencing file's BAT length: every
// chunk, the last one too, ends with its sector bitmap entry.
func (g *vhdxGeometry) differencing() {
	g.batEntries = g.sbBlocks() * (g.chunkRatio + 1)
}

// sbBlocks is how many sector bitmap blocks (chunks) the disk has.
func (g vhdxGeometry) sbBlocks() int64 { return (g.dataBlocks + g.chunkRatio - 1) / g.chunkRatio }

// sectorsPerBlock is how many logical sectors one payload block holds.
func (g vhdxGeometry) sectorsPerBlock() int64 { return g.blockSize / int64(g.logical) }

// bitmapSpan is where, inside its chunk's sector bitmap block, the bits of
// payload block blk are: a byte offset and a length. Blocks are at least
// 1 MiB and sectors at most 4 KiB, so a block's bits are whole bytes.
func (g vhdxGeometry) bitmapSpan(blk int64) (off, n int64) {
	per := g.sectorsPerBlock() / 8
	return (blk % g.chunkRatio) * per, per
}

// String is the textual form the parent locator uses: lowercase, braced.
func (g guid) String() string {
	b := []byte{g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6]}
	b = append(b, g[8:]...)
	h := hex.EncodeToString(b)
	return "{" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:] + "}"
}

// parseGUIDText reads the braced textual form, in either case.
func parseGUIDText(s string) (guid, bool) {
	if len(s) != 38 || s[0] != '{' || s[37] != '}' {
		return guid{}, false
	}
	in := s[1:37]
	if in[8] != '-' || in[13] != '-' || in[18] != '-' || in[23] != '-' {
		return guid{}, false
	}
	b, err := hex.DecodeString(strings.ReplaceAll(in, "-", ""))
	if err != nil {
		return guid{}, false
	}
	var g guid
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:])
	return g, true
}

// locatorEntry is one key-value pair of a parent locator.
type locatorEntry struct{ key, value string }

// encodeLocator returns the parent locator item (2.6.2.6.1-2): a 20-byte
// header (type GUID, reserved, count), 12-byte entries (key offset, value
// offset, key length, value length), then the UTF-16LE strings with no
// terminating NUL.
func encodeLocator(entries []locatorEntry) []byte {
	head := 20 + 12*len(entries)
	b := make([]byte, head, head+256)
	copy(b[0:16], guidLocatorVHDX[:])
	binary.LittleEndian.PutUint16(b[18:], uint16(len(entries)))
	utf := func(s string) []byte {
		var out []byte
		for _, u := range utf16.Encode([]rune(s)) {
			out = binary.LittleEndian.AppendUint16(out, u)
		}
		return out
	}
	for i, e := range entries {
		k, v := utf(e.key), utf(e.value)
		ent := b[20+12*i:]
		binary.LittleEndian.PutUint32(ent[0:], uint32(len(b)))
		b = append(b, k...)
		binary.LittleEndian.PutUint32(ent[4:], uint32(len(b)))
		b = append(b, v...)
		binary.LittleEndian.PutUint16(ent[8:], uint16(len(k)))
		binary.LittleEndian.PutUint16(ent[10:], uint16(len(v)))
	}
	return b
}

// parentLocator is a parsed VHDX parent locator.
type parentLocator struct {
	linkage  []guid // parent_linkage, then parent_linkage2 if present
	relative string
	volume   string
	absolute string
}

// parseLocator checks a parent locator item by the rules of 2.6.2.6: the
// VHDX locator type, entries inside the item with non-zero offsets and
// lengths, UTF-16LE keys and values without NULs, unique keys, a
// parent_linkage GUID and at least one path.
func parseLocator(b []byte) (parentLocator, error) {
	var pl parentLocator
	if len(b) < 20 {
		return pl, fmt.Errorf("parent locator is %d bytes, shorter than its 20-byte header", len(b))
	}
	if guid(b[0:16]) != guidLocatorVHDX {
		return pl, fmt.Errorf("parent locator type %s is not the VHDX type %s", guid(b[0:16]), guidLocatorVHDX)
	}
	n := int(binary.LittleEndian.Uint16(b[18:]))
	if 20+12*n > len(b) {
		return pl, fmt.Errorf("parent locator claims %d entries, more than its %d bytes hold", n, len(b))
	}
	seen := map[string]string{}
	str := func(off uint32, l uint16, what string) (string, error) {
		if off == 0 || l == 0 || l%2 != 0 || int64(off)+int64(l) > int64(len(b)) {
			return "", fmt.Errorf("parent locator %s [%d, +%d) is empty, odd or outside the item", what, off, l)
		}
		us := make([]uint16, l/2)
		for i := range us {
			us[i] = binary.LittleEndian.Uint16(b[int(off)+2*i:])
			if us[i] == 0 {
				return "", fmt.Errorf("parent locator %s holds a NUL character", what)
			}
		}
		return string(utf16.Decode(us)), nil
	}
	for i := range n {
		e := b[20+12*i:]
		key, err := str(binary.LittleEndian.Uint32(e[0:]), binary.LittleEndian.Uint16(e[8:]), "key")
		if err != nil {
			return pl, err
		}
		val, err := str(binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint16(e[10:]), "value of "+key)
		if err != nil {
			return pl, err
		}
		if _, dup := seen[key]; dup {
			return pl, fmt.Errorf("parent locator key %q appears twice", key)
		}
		seen[key] = val
	}
	for _, k := range []string{locLinkage, locLinkage2} {
		v, ok := seen[k]
		if !ok {
			continue
		}
		g, ok := parseGUIDText(v)
		if !ok {
			return pl, fmt.Errorf("parent locator %s %q is not a braced GUID", k, v)
		}
		pl.linkage = append(pl.linkage, g)
	}
	if _, ok := seen[locLinkage]; !ok {
		return pl, fmt.Errorf("parent locator lacks %s, the parent's identity", locLinkage)
	}
	pl.relative, pl.volume, pl.absolute = seen[locRelative], seen[locVolume], seen[locAbsolute]
	if pl.relative == "" && pl.volume == "" && pl.absolute == "" {
		return pl, fmt.Errorf("parent locator names no path to the parent (%s, %s or %s)", locRelative, locVolume, locAbsolute)
	}
	return pl, nil
}

// links reports whether g is one of the identities the child accepts.
func (pl parentLocator) links(g guid) bool {
	for _, l := range pl.linkage {
		if l == g {
			return true
		}
	}
	return false
}

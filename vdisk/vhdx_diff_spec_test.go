package vdisk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// The differencing disk's structures, decoded by hand from the file (not
// through the code under test) and held to MS-VHDX's rules: 2.5 (BAT
// layout), 2.5.1.1-2 (payload and sector bitmap states), 2.5.2 (sector
// bitmap bits), 2.6.2.1 (file parameters), 2.6.2 (metadata flags) and
// 2.6.2.6 (parent locator).

// GUIDs as the file stores them (first three fields little endian).
var (
	specMetaRegion = []byte{0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e}
	specBATRegion  = []byte{0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08}
	specFileParams = []byte{0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b}
	specLocator    = []byte{0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45, 0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c}
	specLocVHDX    = []byte{0xb7, 0xef, 0x4a, 0xb0, 0x9e, 0xd1, 0x81, 0x4a, 0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13}
)

// specFile is a VHDX file opened for hand decoding.
type specFile struct {
	t *testing.T
	f *os.File
}

func specOpen(t *testing.T, p string) specFile {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return specFile{t, f}
}

func (s specFile) read(off, n int64) []byte {
	b := make([]byte, n)
	if _, err := s.f.ReadAt(b, off); err != nil {
		s.t.Fatalf("read %d bytes at %d: %v", n, off, err)
	}
	return b
}

// region returns a region's offset and length from the first region table.
func (s specFile) region(id []byte) (int64, int64) {
	rt := s.read(192<<10, 64<<10)
	for i := range int(binary.LittleEndian.Uint32(rt[8:])) {
		e := rt[16+32*i:]
		if bytes.Equal(e[:16], id) {
			return int64(binary.LittleEndian.Uint64(e[16:])), int64(binary.LittleEndian.Uint32(e[24:]))
		}
	}
	s.t.Fatalf("no region %x", id)
	return 0, 0
}

// item returns a metadata item's bytes and its entry flags.
func (s specFile) item(id []byte) ([]byte, uint32) {
	off, _ := s.region(specMetaRegion)
	tab := s.read(off, 64<<10)
	for i := range int(binary.LittleEndian.Uint16(tab[10:])) {
		e := tab[32+32*i:]
		if bytes.Equal(e[:16], id) {
			return s.read(off+int64(binary.LittleEndian.Uint32(e[16:])), int64(binary.LittleEndian.Uint32(e[20:]))),
				binary.LittleEndian.Uint32(e[24:])
		}
	}
	return nil, 0
}

// dataWriteGUID is the current header's DataWriteGuid in textual form.
func (s specFile) dataWriteGUID() string {
	h1, h2 := s.read(64<<10, 4096), s.read(128<<10, 4096)
	h := h1
	if binary.LittleEndian.Uint64(h2[8:]) > binary.LittleEndian.Uint64(h1[8:]) {
		h = h2
	}
	g := h[32:48]
	return fmt.Sprintf("{%08x-%04x-%04x-%x-%x}", binary.LittleEndian.Uint32(g[0:]), binary.LittleEndian.Uint16(g[4:]),
		binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:16])
}

// locator decodes the parent locator item, checking 2.6.2.6.1-2 on the way.
func (s specFile) locator() map[string]string {
	b, flags := s.item(specLocator)
	if b == nil {
		s.t.Fatal("no parent locator metadata item")
	}
	if flags&4 == 0 || flags&3 != 0 {
		s.t.Fatalf("parent locator entry flags %#x: want IsRequired only (not user, not virtual disk)", flags)
	}
	if !bytes.Equal(b[:16], specLocVHDX) {
		s.t.Fatalf("locator type %x, want the VHDX type", b[:16])
	}
	if binary.LittleEndian.Uint16(b[16:]) != 0 {
		s.t.Fatal("locator header's reserved field is not zero")
	}
	out := map[string]string{}
	for i := range int(binary.LittleEndian.Uint16(b[18:])) {
		e := b[20+12*i:]
		ko, vo := binary.LittleEndian.Uint32(e[0:]), binary.LittleEndian.Uint32(e[4:])
		kl, vl := binary.LittleEndian.Uint16(e[8:]), binary.LittleEndian.Uint16(e[10:])
		if ko == 0 || vo == 0 || kl == 0 || vl == 0 || kl%2 != 0 || vl%2 != 0 {
			s.t.Fatalf("entry %d: offsets and lengths must be positive (UTF-16): %d %d %d %d", i, ko, vo, kl, vl)
		}
		str := func(off uint32, n uint16) string {
			u := make([]uint16, n/2)
			for j := range u {
				u[j] = binary.LittleEndian.Uint16(b[int(off)+2*j:])
				if u[j] == 0 {
					s.t.Fatalf("entry %d holds a NUL", i)
				}
			}
			return string(utf16.Decode(u))
		}
		k := str(ko, kl)
		if _, dup := out[k]; dup {
			s.t.Fatalf("key %q twice", k)
		}
		out[k] = str(vo, vl)
	}
	return out
}

// TestDiffFileFollowsSpec writes each kind of change to a child of a
// 9 GiB sparse parent (three chunks of 4 GiB with 512-byte sectors and
// 1 MiB blocks) and reads the file back by hand.
func TestDiffFileFollowsSpec(t *testing.T) {
	dir := t.TempDir()
	const size = 9 << 30
	parent := filepath.Join(dir, "parent.vhdx")
	p := vxCreate(t, parent, CreateOptions{Size: size, BlockSize: 1 << 20})
	around := int64(4<<30 + 1<<20) // block 4097, in chunk 1
	pdata := vxFill(1<<20, 0x70)
	vxApply(t, p, []vxWrite{{off: around, data: pdata}, {off: 7 << 20, data: pdata}})
	vxClose(t, p)
	linkage := specOpen(t, parent).dataWriteGUID()

	child := filepath.Join(dir, "test", "child.vhdx")
	if err := os.Mkdir(filepath.Dir(child), 0o700); err != nil {
		t.Fatal(err)
	}
	img := dxCreate(t, child, DiffOptions{Parent: parent, BlockSize: 1 << 20})
	w := []vxWrite{
		{off: 8192, data: vxFill(4096, 1)},               // block 0: sectors 16-23 only
		{off: 5 << 20, data: vxFill(1<<20, 2)},           // block 5: whole
		{off: around + 100, data: vxFill(700, 3)},        // block 4097: parts of sectors 0 and 1
		{off: 9 << 20, data: vxFill(512<<10, 4)},         // block 9: first half...
		{off: 9<<20 + 512<<10, data: vxFill(512<<10, 5)}, // ...then the second
	}
	vxApply(t, img, w)
	if err := img.(Zeroer).WriteZeroes(7<<20, 1<<20); err != nil { // block 7: the parent's data, zeroed
		t.Fatal(err)
	}
	got := make([]byte, 1024)
	if _, err := img.ReadAt(got, around); err != nil {
		t.Fatal(err)
	}
	wantSec := bytes.Clone(pdata[:1024])
	copy(wantSec[100:], vxFill(700, 3))
	sameBytes(t, "sectors completed from the parent", got, wantSec)
	vxClose(t, img)

	s := specOpen(t, child)
	fp, fpFlags := s.item(specFileParams)
	if fp == nil || fpFlags&4 == 0 {
		t.Fatal("file parameters missing or not required")
	}
	if bs := binary.LittleEndian.Uint32(fp); bs != 1<<20 {
		t.Fatalf("block size %d", bs)
	}
	if bits := binary.LittleEndian.Uint32(fp[4:]); bits != 2 {
		t.Fatalf("file parameter bits %#x: want HasParent (bit 1) only, LeaveBlockAllocated clear, reserved zero", bits)
	}

	loc := s.locator()
	if loc["parent_linkage"] != linkage {
		t.Fatalf("parent_linkage %q, want the parent's DataWriteGuid %q", loc["parent_linkage"], linkage)
	}
	if _, ok := loc["parent_linkage2"]; ok {
		t.Fatal("parent_linkage2 present; MS-VHDX says it cannot be")
	}
	if rel := loc["relative_path"]; rel != `..\parent.vhdx` {
		t.Fatalf("relative_path %q, want ..\\parent.vhdx (\\ separators, from the child's folder)", rel)
	}
	if abs, ok := loc["absolute_win32_path"]; ok {
		t.Fatalf("absolute_win32_path %q written without a Windows host path", abs)
	}

	// 2.5: chunk ratio 2^23*512/1 MiB = 4096; a differencing BAT has a
	// sector bitmap entry after every chunk, the last too.
	const ratio, chunks = 4096, 3
	batOff, batLen := s.region(specBATRegion)
	if batLen < chunks*(ratio+1)*8 {
		t.Fatalf("BAT region %d bytes, cannot hold %d entries", batLen, chunks*(ratio+1))
	}
	bat := func(i int64) (state uint64, off int64) {
		e := binary.LittleEndian.Uint64(s.read(batOff+8*i, 8))
		return e & 7, int64(e >> 20 << 20)
	}
	payload := func(blk int64) int64 { return blk + blk/ratio }
	sb := func(c int64) int64 { return c*(ratio+1) + ratio }
	for _, c := range []struct {
		blk   int64
		state uint64
		what  string
	}{
		{0, 7, "PARTIALLY_PRESENT after a 4 KiB write"},
		{5, 6, "FULLY_PRESENT after a whole-block write"},
		{4097, 7, "PARTIALLY_PRESENT after a 700-byte write"},
		{9, 6, "FULLY_PRESENT once both halves were written"},
		{7, 2, "ZERO after WriteZeroes of the whole block"},
		{1, 0, "NOT_PRESENT, never written"},
		{8 << 10, 0, "NOT_PRESENT in the last chunk"},
	} {
		if st, _ := bat(payload(c.blk)); st != c.state {
			t.Errorf("block %d: state %d, want %d (%s)", c.blk, st, c.state, c.what)
		}
	}
	fileSize, _ := s.f.Stat()
	for c, want := range []uint64{6, 6, 0} {
		st, off := bat(sb(int64(c)))
		if st != want {
			t.Errorf("sector bitmap entry of chunk %d: state %d, want %d", c, st, want)
		}
		if st == 6 && (off%(1<<20) != 0 || off < 1<<20 || off+1<<20 > fileSize.Size()) {
			t.Errorf("sector bitmap block of chunk %d at %d: not a whole MiB inside the file", c, off)
		}
	}
	if st, _ := bat(chunks*(ratio+1) - 1); st != 0 {
		t.Errorf("the BAT's last entry (the last chunk's sector bitmap) has state %d", st)
	}

	// 2.5.2: bit n of the chunk's bitmap is sector n; 1 = in this file.
	_, sb0 := bat(sb(0))
	bits := s.read(sb0, 1<<20)
	for sec := range int64(2048) { // block 0's sectors
		want := sec >= 16 && sec < 24
		if got := bits[sec/8]&(1<<(sec%8)) != 0; got != want {
			t.Fatalf("chunk 0 bitmap, sector %d: %v, want %v", sec, got, want)
		}
	}
	_, sb1 := bat(sb(1))
	bits = s.read(sb1, 1<<20)
	first := int64(2048) // block 4097 is the second block of chunk 1
	for sec := first; sec < first+2048; sec++ {
		want := sec == first || sec == first+1
		if got := bits[sec/8]&(1<<(sec%8)) != 0; got != want {
			t.Fatalf("chunk 1 bitmap, sector %d: %v, want %v", sec, got, want)
		}
	}
	if strings.Count(string(s.read(0, 8)), "vhdxfile") != 1 {
		t.Fatal("no VHDX signature")
	}
}

// TestDiffHostPaths: with the Hyper-V host's names for both files, the
// locator holds the host's relative path and the absolute Win32 path,
// and a parent on another drive or share gets the absolute path only.
func TestDiffHostPaths(t *testing.T) {
	for _, c := range []struct {
		parent, child, rel, abs string
	}{
		{`D:\VMs\db01.vhdx`, `D:\VMs\Test\db01-test.vhdx`, `..\db01.vhdx`, `\\?\D:\VMs\db01.vhdx`},
		{`D:\VMs\db01.vhdx`, `d:\vms\db01-test.vhdx`, `db01.vhdx`, `\\?\D:\VMs\db01.vhdx`},
		{`D:\VMs\db01.vhdx`, `E:\Test\db01-test.vhdx`, ``, `\\?\D:\VMs\db01.vhdx`},
		{`\\nas01\vms\db01.vhdx`, `\\nas01\vms\test\db01-test.vhdx`, `..\db01.vhdx`, `\\?\UNC\nas01\vms\db01.vhdx`},
		{`\\nas01\vms\db01.vhdx`, `\\nas02\vms\db01-test.vhdx`, ``, `\\?\UNC\nas01\vms\db01.vhdx`},
		{`/srv/hv01/vms/db01.vhdx`, `/srv/hv01/vms/test/db01-test.vhdx`, `..\db01.vhdx`, ``},
	} {
		b, err := parentLocatorFor("ignored.vhdx", DiffOptions{Parent: "ignored", ParentHostPath: c.parent, ChildHostPath: c.child}, newGUID())
		if err != nil {
			t.Fatalf("%s from %s: %v", c.parent, c.child, err)
		}
		pl, err := parseLocator(b)
		if err != nil {
			t.Fatal(err)
		}
		if pl.relative != c.rel || pl.absolute != c.abs {
			t.Errorf("%s from %s: relative %q absolute %q, want %q %q", c.parent, c.child, pl.relative, pl.absolute, c.rel, c.abs)
		}
	}
}

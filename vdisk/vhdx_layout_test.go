package vdisk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// vxRawBAT reads BAT entries straight from the file, finding the BAT
// through the region table by hand (not through the code under test).
func vxRawBAT(t *testing.T, f *os.File, first, n int) []uint64 {
	t.Helper()
	rt := make([]byte, 64<<10)
	if _, err := f.ReadAt(rt, 192<<10); err != nil {
		t.Fatal(err)
	}
	batGUID := []byte{0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08}
	for i := range int(binary.LittleEndian.Uint32(rt[8:])) {
		e := rt[16+32*i:]
		if !bytes.Equal(e[:16], batGUID) {
			continue
		}
		b := make([]byte, 8*n)
		if _, err := f.ReadAt(b, int64(binary.LittleEndian.Uint64(e[16:]))+8*int64(first)); err != nil {
			t.Fatal(err)
		}
		out := make([]uint64, n)
		for j := range out {
			out[j] = binary.LittleEndian.Uint64(b[8*j:])
		}
		return out
	}
	t.Fatal("no BAT region")
	return nil
}

// TestVHDXBATInterleave: after every chunk ratio ((2^23 * logical sector)
// / block size) payload entries comes one sector bitmap entry, as MS-VHDX
// 2.5 lays the BAT out. Blocks on both sides of the first bitmap entry are
// written; the raw BAT must show them where the formula puts them, and qemu
// (for 512-byte sectors; it refuses 4096) must read each at its place.
func TestVHDXBATInterleave(t *testing.T) {
	cases := []struct {
		logical int
		block   int64
		ratio   int
	}{
		{512, 1 << 20, 4096},
		{512, 32 << 20, 128},
		{4096, 1 << 20, 32768},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d-%dM", c.logical, c.block>>20), func(t *testing.T) {
			size := int64(c.ratio+2) * c.block // sparse: only four blocks get written
			p := filepath.Join(t.TempDir(), "wide.vhdx")
			img := vxCreate(t, p, CreateOptions{Size: size, BlockSize: c.block, LogicalSector: c.logical})
			blocks := []int64{0, int64(c.ratio) - 1, int64(c.ratio), int64(c.ratio) + 1}
			for i, b := range blocks {
				vxApply(t, img, []vxWrite{{off: b * c.block, data: vxFill(4096, byte(0x10+i))}})
			}
			vxClose(t, img)

			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			bat := vxRawBAT(t, f, c.ratio-1, 4)
			if bat[1] != 0 {
				t.Errorf("BAT entry %d (the first sector bitmap entry) = %#x, want 0", c.ratio, bat[1])
			}
			for i, idx := range []int{0, 2, 3} { // blocks ratio-1, ratio, ratio+1
				e := bat[idx]
				if e&7 != batFullyPresent {
					t.Fatalf("BAT entry %d = %#x, want a present block", c.ratio-1+idx, e)
				}
				got := make([]byte, 4096)
				if _, err := f.ReadAt(got, int64(e&^0xfffff)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, vxFill(4096, byte(0x11+i))) {
					t.Errorf("BAT entry %d points at the wrong data", c.ratio-1+idx)
				}
			}
			if c.logical != 512 {
				return
			}
			testenv.Qemu(t, "check", "-f", "vhdx", p)
			var cmds []string
			for i, b := range blocks {
				cmds = append(cmds, fmt.Sprintf("read -P %d %d 4096", 0x10+i, b*c.block), fmt.Sprintf("read -P 0 %d 4096", b*c.block+4096))
			}
			cmds = append(cmds, fmt.Sprintf("read -P 0 %d 4096", 1*c.block))
			vxQemuIO(t, p, cmds...)
		})
	}
}

// TestVHDXCreatedStructures checks what we write against MS-VHDX, field by
// field, independently of our parser: signature and creator, header fields,
// region entries marked required (as Hyper-V writes them), metadata flags.
func TestVHDXCreatedStructures(t *testing.T) {
	p := filepath.Join(t.TempDir(), "new.vhdx")
	vxClose(t, vxCreate(t, p, CreateOptions{Size: 1 << 30, LogicalSector: 4096}))
	b := vxMustRead(t, p)
	le := binary.LittleEndian
	if string(b[:8]) != "vhdxfile" || !strings.HasPrefix(string(b[8:24]), "f\x00a\x00i\x00l\x00") {
		t.Errorf("file identifier %q", b[:24])
	}
	for _, off := range []int{64 << 10, 128 << 10} {
		h := b[off:]
		if string(h[:4]) != "head" || le.Uint16(h[66:]) != 1 || le.Uint16(h[64:]) != 0 ||
			le.Uint32(h[68:]) != 1<<20 || le.Uint64(h[72:]) != 1<<20 || !bytes.Equal(h[48:64], make([]byte, 16)) {
			t.Errorf("header at %d: % x", off, h[:80])
		}
	}
	if bytes.Equal(b[64<<10+16:64<<10+48], make([]byte, 32)) {
		t.Error("file/data write GUIDs are zero")
	}
	rt := b[192<<10:]
	if !bytes.Equal(rt[:64<<10], b[256<<10:320<<10]) || le.Uint32(rt[8:]) != 2 {
		t.Error("region tables differ or do not hold two entries")
	}
	for i := range 2 {
		e := rt[16+32*i:]
		if le.Uint64(e[16:])%(1<<20) != 0 || le.Uint32(e[24:])%(1<<20) != 0 || le.Uint32(e[28:]) != 1 {
			t.Errorf("region entry %d: % x", i, e[:32])
		}
	}
	md := b[2<<20:]
	if string(md[:8]) != "metadata" || le.Uint16(md[10:]) != 5 {
		t.Fatalf("metadata table header % x", md[:32])
	}
	wantFlags := []uint32{4, 6, 6, 6, 6} // IsRequired, plus IsVirtualDisk for the disk's own items
	for i, want := range wantFlags {
		if got := le.Uint32(md[32+32*i+24:]); got != want {
			t.Errorf("metadata entry %d flags %d, want %d", i, got, want)
		}
	}
	item := md[64<<10:]
	if le.Uint32(item) != 32<<20 || le.Uint32(item[4:]) != 0 || le.Uint64(item[8:]) != 1<<30 ||
		le.Uint32(item[32:]) != 4096 || le.Uint32(item[36:]) != 4096 || bytes.Equal(item[16:32], make([]byte, 16)) {
		t.Errorf("metadata items % x", item[:40])
	}
}

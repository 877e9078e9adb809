package vdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// dxBase is a closed child (1 MiB blocks) of a small parent in dir, with
// block 0 partly written (PARTIALLY_PRESENT, sector bitmap block of chunk
// 0 present) and block 3 whole; it returns the child's bytes.
func dxBase(t *testing.T, dir string) []byte {
	t.Helper()
	parent, _ := dxParent(t, dir, 8<<20, 512, 40)
	child := filepath.Join(dir, "base.vhdx")
	img := dxCreate(t, child, DiffOptions{Parent: parent, BlockSize: 1 << 20})
	vxApply(t, img, []vxWrite{{off: 4096, data: vxFill(4096, 1)}, {off: 3 << 20, data: vxFill(1<<20, 2)}})
	vxClose(t, img)
	return vxMustRead(t, child)
}

// dxLocatorAt is where our layout puts the locator item (after the five
// fixed items).
const dxLocatorAt = createMetaOff + vhdxTableSize + 40

// dxSetLocator replaces the locator item and its length in the table.
func dxSetLocator(b, loc []byte) {
	copy(b[dxLocatorAt:], loc)
	vxEditMeta(b, func(ms []metaEntry) []metaEntry {
		for i := range ms {
			if ms[i].ID == guidParentLocator {
				ms[i].Len = uint32(len(loc))
			}
		}
		return ms
	})
}

func dxLinkage(b []byte) string {
	pl, err := parseLocator(b[dxLocatorAt:])
	if err != nil {
		panic(err)
	}
	return pl.linkage[0].String()
}

// TestDiffHostileFiles: a differencing file that breaks MS-VHDX's parent
// locator or sector bitmap rules is refused as damaged (ErrCorrupt),
// never read.
func TestDiffHostileFiles(t *testing.T) {
	dir := t.TempDir()
	base := dxBase(t, dir)
	link := dxLinkage(base)
	loc := func(es ...locatorEntry) func([]byte) {
		return func(b []byte) { dxSetLocator(b, encodeLocator(es)) }
	}
	rel := locatorEntry{locRelative, "parent.vhdx"}
	batBlk0 := binary.LittleEndian.Uint64(base[createBATOff:])
	cases := []struct {
		name string
		edit func([]byte)
	}{
		{"locator of another type", func(b []byte) { b[dxLocatorAt] ^= 0xff }},
		{"locator reserved count past the item", func(b []byte) { binary.LittleEndian.PutUint16(b[dxLocatorAt+18:], 900) }},
		{"no parent_linkage", loc(locatorEntry{locLinkage2, link}, rel)},
		{"parent_linkage not a GUID", loc(locatorEntry{locLinkage, "db01"}, rel)},
		{"no path", loc(locatorEntry{locLinkage, link})},
		{"a key twice", loc(locatorEntry{locLinkage, link}, rel, rel)},
		{"a NUL in a value", loc(locatorEntry{locLinkage, link}, locatorEntry{locRelative, "par\x00ent.vhdx"})},
		{"a value outside the item", func(b []byte) { binary.LittleEndian.PutUint32(b[dxLocatorAt+20+4:], 60000) }},
		{"a zero key offset", func(b []byte) { binary.LittleEndian.PutUint32(b[dxLocatorAt+20:], 0) }},
		{"HasParent without a locator", func(b []byte) {
			vxEditMeta(b, func(ms []metaEntry) []metaEntry { return ms[:5] })
		}},
		{"a locator without HasParent", func(b []byte) { vxMetaItem(b, 0)[4] &^= fileParamHasParent }},
		{"partially present without a sector bitmap", func(b []byte) { vxSetBAT(b, 1<<12, 0) }},
		{"sector bitmap entry in state 3", func(b []byte) {
			e := binary.LittleEndian.Uint64(b[createBATOff+8*(1<<12):])
			vxSetBAT(b, 1<<12, e&^7|3)
		}},
		{"sector bitmap over a payload block", func(b []byte) { vxSetBAT(b, 1<<12, batBlk0&batOffsetMask|sbPresent) }},
	}
	if batBlk0&batStateMask != batPartiallyPresent {
		t.Fatalf("base block 0 is in state %d, not partially present", batBlk0&batStateMask)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(base)
			c.edit(b)
			p := filepath.Join(dir, "hostile.vhdx")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			img, err := OpenChain(p, ChainOptions{ReadOnly: true})
			if err == nil {
				img.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v; want ErrCorrupt", err)
			}
		})
	}
}

// TestDiffBitmapThroughLog: sector bitmap changes are committed through
// the log with the BAT. A power cut right after a Flush's log entry is
// durable, losing the in-place BAT and bitmap writes, still reads every
// flushed sector, on a read-only open (replayed in memory, file
// untouched) and on a writable one (replayed into the file).
func TestDiffBitmapThroughLog(t *testing.T) {
	dir := t.TempDir()
	parent, want := dxParent(t, dir, 8<<20, 512, 41)
	child := filepath.Join(dir, "child.vhdx")
	img := dxCreate(t, child, DiffOptions{Parent: parent, BlockSize: 1 << 20})
	oldBAT := bytes.Clone(vxMustRead(t, child)[createBATOff : createBATOff+1<<20])
	w := []vxWrite{{off: 4096 + 3, data: vxFill(5000, 1)}, {off: 2<<20 + 1024, data: vxFill(2048, 2)}, {off: 5 << 20, data: vxFill(1<<20, 3)}}
	vxApply(t, img, w)
	dxApplyRef(want, w)
	if err := img.Flush(); err != nil {
		t.Fatal(err)
	}
	cut := vxMustRead(t, child)
	vxClose(t, img)

	sbOff := int64(binary.LittleEndian.Uint64(cut[createBATOff+8*(1<<12):]) & batOffsetMask)
	if sbOff == 0 {
		t.Fatal("no sector bitmap block after partial writes")
	}
	if bytes.Equal(cut[sbOff:sbOff+1<<20], make([]byte, 1<<20)) {
		t.Fatal("the flush wrote no bitmap bits in place")
	}
	copy(cut[createBATOff:], oldBAT)
	clear(cut[sbOff : sbOff+1<<20])
	crashed := filepath.Join(dir, "crashed.vhdx")
	if err := os.WriteFile(crashed, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	before := vxSum(t, crashed)
	img = dxOpen(t, crashed, ChainOptions{ReadOnly: true})
	sameBytes(t, "read-only, log replayed in memory", readAll(t, img), want)
	vxClose(t, img)
	if vxSum(t, crashed) != before {
		t.Fatal("a read-only open changed the file")
	}
	img = dxOpen(t, crashed, ChainOptions{})
	sameBytes(t, "writable, log replayed", readAll(t, img), want)
	vxClose(t, img)
	img = dxOpen(t, crashed, ChainOptions{ReadOnly: true})
	sameBytes(t, "after the replay", readAll(t, img), want)
	vxClose(t, img)
}

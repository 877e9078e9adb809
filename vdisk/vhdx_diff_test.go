package vdisk

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// qemu-img cannot read VHDX differencing disks (7.2 refuses any file with
// HasParent set: "Operation not supported"), so it is no oracle for the
// child. These tests check the child through this package's own chain
// reader against contents built with plain byte slices, check the file's
// structures by hand against MS-VHDX (vhdx_diff_spec_test.go), and use
// qemu-img on the parent only: it must stay a valid VHDX with the same
// bytes.

// dxParent creates a dynamic VHDX parent with scattered writes; it returns
// its path and content.
func dxParent(t *testing.T, dir string, size int64, logical int, seed uint64) (string, []byte) {
	t.Helper()
	p := filepath.Join(dir, "parent.vhdx")
	img := vxCreate(t, p, CreateOptions{Size: size, BlockSize: 1 << 20, LogicalSector: logical})
	ws := vxScatter(seed, size, 1<<20)
	vxApply(t, img, ws)
	vxClose(t, img)
	return p, vxRef(t, filepath.Join(dir, "parent.raw"), size, ws)
}

func dxCreate(t *testing.T, child string, o DiffOptions) Image {
	t.Helper()
	img, err := CreateDifferencing(child, o)
	if err != nil {
		t.Fatalf("CreateDifferencing(%s): %v", child, err)
	}
	return img
}

func dxOpen(t *testing.T, child string, o ChainOptions) Image {
	t.Helper()
	img, err := OpenChain(child, o)
	if err != nil {
		t.Fatalf("OpenChain(%s): %v", child, err)
	}
	return img
}

// apply copies ws into want, as the image should read after them.
func dxApplyRef(want []byte, ws []vxWrite) {
	for _, w := range ws {
		copy(want[w.off:], w.data)
	}
}

// TestDiffChildReadsOverParent: a child of a written parent reads as the
// parent with the child's writes (whole blocks, parts of blocks, writes
// across blocks, tiny unaligned ones, WriteZeroes) on top, before and
// after a flush, reopened writable and read-only; Allocated covers every
// non-zero byte; and the parent's file is the same, byte for byte, and
// still a valid VHDX with its old content for qemu-img.
func TestDiffChildReadsOverParent(t *testing.T) {
	testenv.QemuImg(t)
	cases := []struct {
		name    string
		logical int
		block   int64
	}{
		{"512-sectors-1M-blocks", 512, 1 << 20},
		{"512-sectors-default-2M-blocks", 512, 0},
		{"4K-sectors-4M-blocks", 4096, 4 << 20},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			size := int64(13<<20 + 3*4096)
			parent, want := dxParent(t, dir, size, c.logical, uint64(10+i))
			before := vxSum(t, parent)
			child := filepath.Join(dir, "child.vhdx")
			img := dxCreate(t, child, DiffOptions{Parent: parent, BlockSize: c.block})
			if got := img.Info().Parent; got != parent {
				t.Fatalf("Info().Parent = %q, want %q", got, parent)
			}
			sameBytes(t, "a new child", readAll(t, img), want)

			bs := c.block
			if bs == 0 {
				bs = 2 << 20
			}
			ws := vxScatter(uint64(20+i), size, bs)
			vxApply(t, img, ws)
			dxApplyRef(want, ws)
			sameBytes(t, "after writes", readAll(t, img), want)
			vxCheckAllocated(t, img, want)
			if err := img.Flush(); err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "after a flush", readAll(t, img), want)
			vxClose(t, img)

			img = dxOpen(t, child, ChainOptions{})
			sameBytes(t, "reopened", readAll(t, img), want)
			ws = vxScatter(uint64(30+i), size, bs)
			vxApply(t, img, ws)
			dxApplyRef(want, ws)
			vxClose(t, img)

			img = dxOpen(t, child, ChainOptions{ReadOnly: true})
			sameBytes(t, "reopened read-only", readAll(t, img), want)
			vxCheckAllocated(t, img, want)
			if _, err := img.WriteAt([]byte{1}, 0); err == nil {
				t.Fatal("a read-only chain accepted a write")
			}
			vxClose(t, img)

			if vxSum(t, parent) != before {
				t.Fatal("the parent's file changed")
			}
			if c.logical == 512 { // qemu reads VHDX of 512-byte sectors only
				vxQemuAgrees(t, parent, filepath.Join(dir, "parent.raw"))
			}
		})
	}
}

// TestDiffQemuCannotReadChildren records why qemu-img is no oracle for
// differencing disks: it refuses them. Should a later qemu read them,
// this fails, and the chain tests should compare with it.
func TestDiffQemuCannotReadChildren(t *testing.T) {
	testenv.QemuImg(t)
	dir := t.TempDir()
	parent, _ := dxParent(t, dir, 4<<20, 512, 1)
	child := filepath.Join(dir, "child.vhdx")
	vxClose(t, dxCreate(t, child, DiffOptions{Parent: parent}))
	testenv.Qemu(t, "info", "-f", "vhdx", parent) // the parent it reads
	out, err := exec.Command(testenv.QemuImg(t), "info", "-f", "vhdx", child).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not supported") {
		t.Fatalf("qemu-img info on a differencing VHDX: err %v, output %q; want a refusal (not supported)", err, out)
	}
}

// TestDiffParentChanged: MS-VHDX 2.6.2.6.3 wants the parent's DataWriteGuid
// to match the child's parent_linkage. Writing the parent (as starting the
// original VM would) changes it, and the child is then refused with
// ErrParentChanged instead of read over bytes it was not made for.
func TestDiffParentChanged(t *testing.T) {
	dir := t.TempDir()
	parent, _ := dxParent(t, dir, 4<<20, 512, 2)
	child := filepath.Join(dir, "child.vhdx")
	img := dxCreate(t, child, DiffOptions{Parent: parent})
	vxApply(t, img, []vxWrite{{off: 4096, data: vxFill(4096, 7)}})
	vxClose(t, img)

	p := vxOpen(t, parent, false)
	vxApply(t, p, []vxWrite{{off: 0, data: []byte{1}}})
	vxClose(t, p)

	_, err := OpenChain(child, ChainOptions{ReadOnly: true})
	if !errors.Is(err, ErrParentChanged) || !strings.Contains(err.Error(), "make the differencing disk again") {
		t.Fatalf("OpenChain after the parent was written: %v; want ErrParentChanged saying what to do", err)
	}
}

// TestDiffOpenRefusesChildren: Open (what failbacks and reverse
// replication use) still refuses a differencing disk; only OpenChain
// reads one.
func TestDiffOpenRefusesChildren(t *testing.T) {
	dir := t.TempDir()
	parent, _ := dxParent(t, dir, 4<<20, 512, 3)
	child := filepath.Join(dir, "child.vhdx")
	vxClose(t, dxCreate(t, child, DiffOptions{Parent: parent}))
	for _, ro := range []bool{false, true} {
		_, err := Open(child, OpenOptions{ReadOnly: ro})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "differencing") {
			t.Fatalf("Open(read-only %v) of a child: %v; want ErrUnsupported naming a differencing disk", ro, err)
		}
	}
}

// TestDiffParentFormats: only a VHDX can be a VHDX's parent; a VHD or raw
// disk is refused before anything is created, saying to copy instead.
func TestDiffParentFormats(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []Format{VHD, Raw} {
		p := filepath.Join(dir, "parent."+string(f))
		img, err := Create(p, CreateOptions{Format: f, Size: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		vxClose(t, img)
		child := filepath.Join(dir, "child-of-"+string(f)+".vhdx")
		_, err = CreateDifferencing(child, DiffOptions{Parent: p})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "copy") {
			t.Fatalf("%s parent: %v; want ErrUnsupported saying to copy", f, err)
		}
		if _, serr := os.Stat(child); serr == nil {
			t.Fatalf("%s parent: the refused child was created", f)
		}
	}
	if _, err := CreateDifferencing(filepath.Join(dir, "child.vhd"), DiffOptions{Parent: filepath.Join(dir, "parent.vhd")}); err == nil {
		t.Fatal("a child named .vhd was accepted")
	}
}

// TestDiffFindsParent: the relative path finds a parent moved with its
// child; a child moved alone is refused naming what was tried, and opens
// with the parent given; a parent that is another disk is refused.
func TestDiffFindsParent(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "vms")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	parent, want := dxParent(t, sub, 4<<20, 512, 4)
	testDir := filepath.Join(sub, "test")
	if err := os.Mkdir(testDir, 0o700); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(testDir, "child.vhdx")
	img := dxCreate(t, child, DiffOptions{Parent: parent})
	w := []vxWrite{{off: 1<<20 + 512, data: vxFill(1000, 9)}}
	vxApply(t, img, w)
	dxApplyRef(want, w)
	vxClose(t, img)

	moved := filepath.Join(dir, "moved")
	if err := os.Rename(sub, moved); err != nil {
		t.Fatal(err)
	}
	img = dxOpen(t, filepath.Join(moved, "test", "child.vhdx"), ChainOptions{ReadOnly: true})
	sameBytes(t, "moved with its parent", readAll(t, img), want)
	vxClose(t, img)

	alone := filepath.Join(dir, "alone.vhdx")
	if err := os.Rename(filepath.Join(moved, "test", "child.vhdx"), alone); err != nil {
		t.Fatal(err)
	}
	_, err := OpenChain(alone, ChainOptions{ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), "not found") || !strings.Contains(err.Error(), "relative_path") {
		t.Fatalf("child moved alone: %v; want not found naming relative_path", err)
	}
	img = dxOpen(t, alone, ChainOptions{ReadOnly: true, Parent: filepath.Join(moved, "parent.vhdx")})
	sameBytes(t, "parent given", readAll(t, img), want)
	vxClose(t, img)

	other, _ := dxParent(t, t.TempDir(), 4<<20, 512, 5)
	_, err = OpenChain(alone, ChainOptions{ReadOnly: true, Parent: other})
	if !errors.Is(err, ErrParentChanged) {
		t.Fatalf("another disk given as the parent: %v; want ErrParentChanged", err)
	}
}

// TestDiffConcurrentWrites: the engine writes blocks in parallel; pieces
// of the same absent blocks written at once all land, none reads the
// parent afterwards (run with -race).
func TestDiffConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	size := int64(8 << 20)
	parent, want := dxParent(t, dir, size, 512, 6)
	img := dxCreate(t, filepath.Join(dir, "child.vhdx"), DiffOptions{Parent: parent})
	defer vxClose(t, img)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 16 {
				off := int64(k)*(512<<10) + int64(g)*(64<<10) + int64(g*7)
				b := vxFill(60<<10+g, byte(g+1))
				if _, err := img.WriteAt(b, off); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for g := range 8 {
		for k := range 16 {
			off := int64(k)*(512<<10) + int64(g)*(64<<10) + int64(g*7)
			copy(want[off:], vxFill(60<<10+g, byte(g+1)))
		}
	}
	sameBytes(t, "after concurrent writes", readAll(t, img), want)
}

// TestDiffZeroAndDeallocate: WriteZeroes makes a range read zeros over a
// parent that holds data (whole blocks ZERO, parts written as zeros);
// Deallocate makes whole blocks read the parent again (as never written,
// which is what a rollback wants), and Trim gives the space back.
func TestDiffZeroAndDeallocate(t *testing.T) {
	dir := t.TempDir()
	size := int64(8 << 20)
	parentPath := filepath.Join(dir, "parent.vhdx")
	p := vxCreate(t, parentPath, CreateOptions{Size: size, BlockSize: 1 << 20})
	full := vxFill(int(size), 0x5a)
	vxApply(t, p, []vxWrite{{off: 0, data: full}})
	vxClose(t, p)
	want := bytes.Clone(full)

	child := filepath.Join(dir, "child.vhdx")
	img := dxCreate(t, child, DiffOptions{Parent: parentPath, BlockSize: 1 << 20})
	z := img.(Zeroer)
	if err := z.WriteZeroes(1<<20, 1<<20); err != nil { // block 1 whole
		t.Fatal(err)
	}
	if err := z.WriteZeroes(3<<20+100, 5000); err != nil { // part of absent block 3
		t.Fatal(err)
	}
	clear(want[1<<20 : 2<<20])
	clear(want[3<<20+100 : 3<<20+5100])
	sameBytes(t, "after WriteZeroes", readAll(t, img), want)

	grow := vxFill(1<<20, 0xee)
	vxApply(t, img, []vxWrite{{off: 6 << 20, data: grow}, {off: 7 << 20, data: grow}})
	copy(want[6<<20:], grow)
	copy(want[7<<20:], grow)
	if err := img.Flush(); err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(child)
	d := img.(Deallocator)
	if err := d.Deallocate(6<<20, 2<<20); err != nil {
		t.Fatal(err)
	}
	copy(want[6<<20:8<<20], full[6<<20:8<<20])
	sameBytes(t, "after Deallocate", readAll(t, img), want)
	if err := d.Trim(); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(child)
	if st2.Size() >= st1.Size() {
		t.Fatalf("Trim left the child at %d bytes (was %d)", st2.Size(), st1.Size())
	}
	vxClose(t, img)
	img = dxOpen(t, child, ChainOptions{ReadOnly: true})
	sameBytes(t, "reopened", readAll(t, img), want)
	vxClose(t, img)
}

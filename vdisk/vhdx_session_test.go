package vdisk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// vxHeaders reads both header copies; ok says each is valid.
func vxHeaders(t *testing.T, p string) (hs [2]vhdxHeader, ok [2]bool) {
	t.Helper()
	b := vxMustRead(t, p)
	for i, off := range []int{vhdxHeader1Off, vhdxHeader2Off} {
		hs[i], ok[i] = parseHeader(b[off:])
	}
	return hs, ok
}

func vxCurrent(hs [2]vhdxHeader) vhdxHeader {
	if hs[1].Seq > hs[0].Seq {
		return hs[1]
	}
	return hs[0]
}

// TestVHDXWriteSessionUpdatesHeaders: a writable open changes nothing
// until the first write; then both header copies get new FileWriteGuid and
// DataWriteGuid values with higher sequence numbers (once, not per write),
// and after Close both copies are valid with an empty log.
func TestVHDXWriteSessionUpdatesHeaders(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.vhdx")
	vxClose(t, vxCreate(t, p, CreateOptions{Size: 8 << 20, BlockSize: 1 << 20}))
	before := vxMustRead(t, p)
	old, _ := vxHeaders(t, p)

	vxClose(t, vxOpen(t, p, false))
	img := vxOpen(t, p, true)
	if _, err := img.ReadAt(make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	vxClose(t, img)
	if !bytes.Equal(vxMustRead(t, p), before) {
		t.Fatal("an open without writes changed the file")
	}

	img = vxOpen(t, p, false)
	vxApply(t, img, []vxWrite{{off: 100, data: []byte{1}}})
	mid, _ := vxHeaders(t, p)
	vxApply(t, img, []vxWrite{{off: 3 << 20, data: []byte{2}}})
	again, _ := vxHeaders(t, p)
	if again != mid {
		t.Error("a second write in the same session rewrote the headers")
	}
	cur, prev := vxCurrent(mid), vxCurrent(old)
	if cur.Seq <= prev.Seq || cur.FileWriteGUID == prev.FileWriteGUID || cur.DataWriteGUID == prev.DataWriteGUID {
		t.Errorf("after the first write: %+v, before: %+v", cur, prev)
	}
	vxClose(t, img)
	hs, ok := vxHeaders(t, p)
	if !ok[0] || !ok[1] || hs[0].Seq == hs[1].Seq {
		t.Fatalf("after close: valid %v, sequence numbers %d and %d", ok, hs[0].Seq, hs[1].Seq)
	}
	if end := vxCurrent(hs); !end.LogGUID.isZero() || end.FileWriteGUID != cur.FileWriteGUID {
		t.Errorf("after close: %+v", end)
	}
}

// TestVHDXStaleLogGUIDIsReplaced: a header that names a log GUID with no
// entries (a crash right after setting it) gets a new GUID before our
// first entry, so our entries replay.
func TestVHDXStaleLogGUIDIsReplaced(t *testing.T) {
	testenv.QemuImg(t)
	p, want := vxBase(t)
	c := vxCrashOpen(t, p)
	stale := newGUID()
	c.setLogGUID(stale)
	img := vxOpen(t, p, false)
	copy(want[9<<20:], vxFill(5000, 9))
	vxApply(t, img, []vxWrite{{off: 9 << 20, data: vxFill(5000, 9)}})
	crashed := vxLoseBATWrites(t, img, p, c.read(c.batOff, batSector))
	if g := vxCrashOpen(t, crashed).hdr.LogGUID; g == stale {
		t.Fatalf("our entry went to the log under the stale GUID %x", stale)
	}
	vxReplayAgrees(t, crashed, want, true)
}

// TestVHDXFlushManyBATSectors: a Flush with more changed BAT sectors than
// one log entry holds (126 for a 1 MiB log) writes several entries; the
// result passes qemu-img check and reads back.
func TestVHDXFlushManyBATSectors(t *testing.T) {
	testenv.QemuImg(t)
	p := filepath.Join(t.TempDir(), "wide.vhdx")
	const size = 70 << 30 // 1 MiB blocks: a BAT sector per 512 MiB
	img := vxCreate(t, p, CreateOptions{Size: size, BlockSize: 1 << 20})
	var ws []vxWrite
	for k := int64(0); k < 137; k++ {
		ws = append(ws, vxWrite{off: k * 512 << 20, data: vxFill(4096, byte(k+1))})
	}
	vxApply(t, img, ws)
	vxClose(t, img)
	testenv.Qemu(t, "check", "-f", "vhdx", p)
	img = vxOpen(t, p, true)
	defer vxClose(t, img)
	for _, w := range ws {
		got := make([]byte, 4096)
		if _, err := img.ReadAt(got, w.off); err != nil || !bytes.Equal(got, w.data) {
			t.Fatalf("at %d: %v", w.off, err)
		}
	}
	if ext, _ := img.Allocated(); len(ext) != len(ws) {
		t.Errorf("%d allocated extents, want %d", len(ext), len(ws))
	}
}

// TestVHDXUnallocatedStatesReadZero: blocks in the UNDEFINED, ZERO and
// UNMAPPED states read as zeros even when their entry carries the offset
// of real data, are not Allocated, and a write to them takes new space
// (qemu-img check stays clean).
func TestVHDXUnallocatedStatesReadZero(t *testing.T) {
	testenv.QemuImg(t)
	for _, st := range []uint64{batUndefined, batZero, batUnmapped} {
		p, _ := vxBase(t) // block 2 holds 0xa2
		b := vxMustRead(t, p)
		e := binary.LittleEndian.Uint64(b[createBATOff+2*8:])
		binary.LittleEndian.PutUint64(b[createBATOff+2*8:], e&batOffsetMask|st)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		img := vxOpen(t, p, false)
		want := make([]byte, 16<<20)
		sameBytes(t, fmt.Sprint("state ", st), readAll(t, img), want)
		if ext, _ := img.Allocated(); len(ext) != 0 {
			t.Errorf("state %d: Allocated() = %v", st, ext)
		}
		vxApply(t, img, []vxWrite{{off: 2<<20 + 10, data: []byte{7}}})
		vxClose(t, img)
		if got := binary.LittleEndian.Uint64(vxMustRead(t, p)[createBATOff+2*8:]); got&batOffsetMask == e&batOffsetMask {
			t.Errorf("state %d: the write reused the old space", st)
		}
		testenv.Qemu(t, "check", "-f", "vhdx", p)
	}
}

// TestVHDXLogOnUnalignedFile: on a file whose size is not a MiB multiple,
// a Flush that only zeroes a block (no allocation, so no growth) logs the
// real file size; the entry replays (an entry claiming more than the file
// holds would be refused as a truncated file).
func TestVHDXLogOnUnalignedFile(t *testing.T) {
	testenv.QemuImg(t)
	p, want := vxBase(t)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	oldBAT := vxCrashOpen(t, p).read(createBATOff, batSector)
	img := vxOpen(t, p, false)
	if err := img.(Zeroer).WriteZeroes(2<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	clear(want[2<<20 : 3<<20])
	crashed := vxLoseBATWrites(t, img, p, oldBAT)
	vxReplayAgrees(t, crashed, want, true)
}

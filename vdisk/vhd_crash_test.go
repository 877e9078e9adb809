package vdisk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// TestVHDCrashBeforeFlushLeavesOrphan freezes the file as a crash would
// leave it after new blocks were written but before Flush wrote their BAT
// entries, and checks that it still reads as the last flushed content (in
// qemu too), and that writing to it afterwards works around the orphan.
func TestVHDCrashBeforeFlushLeavesOrphan(t *testing.T) {
	testenv.QemuImg(t)
	const size = 16 << 20
	dir := t.TempDir()
	p := filepath.Join(dir, "live.vhd")
	img, err := Create(p, CreateOptions{Format: VHD, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	a := []write{{0, bytes.Repeat([]byte{0xA1}, 70000)}, {5 << 20, bytes.Repeat([]byte{0xA2}, 512)}}
	applyWrites(t, img, a)
	if err := img.Flush(); err != nil {
		t.Fatal(err)
	}
	// New blocks (2 MiB blocks 4 and 6), not flushed.
	applyWrites(t, img, []write{{8 << 20, bytes.Repeat([]byte{0xB1}, 4096)}, {12<<20 + 7, []byte("unflushed")}})
	frozen := mustRead(t, p)
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		cut  int // bytes cut from the end: 512 = the rewritten footer never made it
	}{{"footer-at-end", 0}, {"no-footer-at-end", VHDFooterSize}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			crash := filepath.Join(dir, "crash.vhd")
			if err := os.WriteFile(crash, frozen[:len(frozen)-c.cut], 0o644); err != nil {
				t.Fatal(err)
			}
			refA := refRaw(t, dir, size, a)
			testenv.Qemu(t, "compare", "-f", "raw", "-F", "vpc", refA, crash)

			img, err := Open(crash, OpenOptions{})
			if err != nil {
				t.Fatalf("open after crash: %v", err)
			}
			sameBytes(t, "content after crash", readAll(t, img), mustRead(t, refA))
			ext, _ := img.Allocated()
			if len(ext) != 2 || ext[0] != (Extent{0, 2 << 20}) || ext[1] != (Extent{4 << 20, 2 << 20}) {
				t.Fatalf("allocated %v, want blocks 0 and 2 only", ext)
			}
			c2 := []write{{8 << 20, bytes.Repeat([]byte{0xC1}, 1000)}, {15 << 20, bytes.Repeat([]byte{0xC2}, 3000)}, {100, []byte("over a")}}
			applyWrites(t, img, c2)
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			ref := refRaw(t, t.TempDir(), size, append(a, c2...))
			testenv.Qemu(t, "compare", "-f", "raw", "-F", "vpc", ref, crash)
			b := mustRead(t, crash)
			if _, err := ParseVHDFooter(b[len(b)-VHDFooterSize:]); err != nil {
				t.Fatalf("no footer at the end after recovery: %v", err)
			}
		})
	}
}

// TestVHDClearBitmapBitReadsZero checks that a sector whose bitmap bit is
// clear reads as zeros whatever its data holds, and that a partial write
// into such a sector does not bring the stale bytes back.
func TestVHDClearBitmapBitReadsZero(t *testing.T) {
	testenv.QemuImg(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "bm.vhd")
	img, err := Create(p, CreateOptions{Format: VHD, Size: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	applyWrites(t, img, []write{{0, bytes.Repeat([]byte{0xAA}, 4096)}})
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	b := mustRead(t, p)
	blockOff := int64(b[1536])<<24 | int64(b[1537])<<16 | int64(b[1538])<<8 | int64(b[1539])
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0x7f}, blockOff*512); err != nil { // clear sector 0
		t.Fatal(err)
	}
	f.Close()

	img, err = Open(p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1024)
	if _, err := img.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	want := append(make([]byte, 512), bytes.Repeat([]byte{0xAA}, 512)...)
	sameBytes(t, "sector with a clear bit", got, want)
	applyWrites(t, img, []write{{10, []byte("partial")}})
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	ref := refRaw(t, dir, 4<<20, []write{{512, bytes.Repeat([]byte{0xAA}, 3584)}, {10, []byte("partial")}})
	// qemu ignores bitmaps: it agrees only if the sector was rewritten whole.
	testenv.Qemu(t, "compare", "-f", "raw", "-F", "vpc", ref, p)
}

// TestVHDWriteZeroes checks that zeroing leaves unallocated blocks
// unallocated and turns allocated data into zeros for us and for qemu.
func TestVHDWriteZeroes(t *testing.T) {
	testenv.QemuImg(t)
	for _, o := range []CreateOptions{
		{Format: VHD, Size: 16 << 20},
		{Format: VHD, Size: 16 << 20, Fixed: true},
		{Format: Raw, Size: 16 << 20},
	} {
		t.Run(string(o.Format)+map[bool]string{true: "-fixed"}[o.Fixed], func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "z")
			img, err := Create(p, o)
			if err != nil {
				t.Fatal(err)
			}
			data := []write{{0, bytes.Repeat([]byte{1}, 3<<20)}, {9 << 20, bytes.Repeat([]byte{2}, 100000)}}
			applyWrites(t, img, data)
			before, _ := img.Allocated()
			z, ok := img.(Zeroer)
			if !ok {
				t.Fatal("image does not implement Zeroer")
			}
			zeros := [][2]int64{{1000, 5000}, {1 << 20, 1 << 20}, {12 << 20, 2 << 20}, {9<<20 + 77, 1234}}
			for _, r := range zeros {
				if err := z.WriteZeroes(r[0], r[1]); err != nil {
					t.Fatal(err)
				}
			}
			after, _ := img.Allocated()
			if extentBytes(after) > extentBytes(before) {
				t.Fatalf("zeroing allocated space: %v -> %v", before, after)
			}
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			ws := data
			for _, r := range zeros {
				ws = append(ws, write{r[0], make([]byte, r[1])})
			}
			ref := refRaw(t, dir, o.Size, ws)
			fm := map[Format]string{VHD: "vpc", Raw: "raw"}[o.Format]
			testenv.Qemu(t, "compare", "-f", "raw", "-F", fm, ref, p)
			if o.Format == Raw {
				// 1 MiB..2 MiB became a hole.
				for _, e := range after {
					if e.Off <= 1<<20+4096 && e.End() >= 2<<20-4096 {
						t.Fatalf("punched range still allocated: %v", after)
					}
				}
			}
		})
	}
}

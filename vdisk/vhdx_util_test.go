package vdisk

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// vxWrite is one write (or, with zero set, one WriteZeroes) of a VHDX test.
type vxWrite struct {
	off  int64
	data []byte
	zero bool
}

// vxScatter makes random writes over a disk with the given block size:
// whole blocks, pieces inside blocks, writes across block boundaries, tiny
// unaligned ones, the first and last bytes, and a few WriteZeroes (whole
// blocks and partial), leaving most blocks untouched.
func vxScatter(seed uint64, size, blockSize int64) []vxWrite {
	r := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))
	var ws []vxWrite
	add := func(off, n int64, zero bool) {
		off = max(off, 0)
		n = min(n, size-off)
		if n <= 0 {
			return
		}
		w := vxWrite{off: off, zero: zero}
		if !zero {
			w.data = randomBytes(r, n)
		} else {
			w.data = make([]byte, n) // the expected content
		}
		ws = append(ws, w)
	}
	blocks := (size + blockSize - 1) / blockSize
	chunk := min(blockSize, 256<<10)
	for range 3 { // a piece of a block, 4 KiB aligned
		add(r.Int64N(size/4096)*4096, chunk, false)
	}
	for range 3 { // across a block boundary
		if blocks > 1 {
			b := (r.Int64N(blocks-1) + 1) * blockSize
			add(b-r.Int64N(5000)-1, r.Int64N(10000)+2, false)
		}
	}
	for range 6 { // tiny and unaligned
		add(r.Int64N(size), r.Int64N(3000)+1, false)
	}
	whole := r.Int64N(blocks)
	add(whole*blockSize, blockSize, false) // a whole block...
	add(size-700, 700, false)              // the very end
	add(0, 512, false)                     // the very start
	add(whole*blockSize, blockSize, true)  // ...zeroed again whole
	add(r.Int64N(size), r.Int64N(9000)+1, true)
	add(size-100, 100, true)
	return ws
}

// randomBytes returns n random bytes, none of them zero (so that every
// written byte shows in content checks), eight at a time: byte loops are
// slow under -race.
func randomBytes(r *rand.Rand, n int64) []byte {
	b := make([]byte, n+8)
	for i := int64(0); i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64()|0x0101010101010101)
	}
	return b[:n]
}

func vxApply(t testing.TB, img Image, ws []vxWrite) {
	t.Helper()
	for _, w := range ws {
		if w.zero {
			if err := img.(Zeroer).WriteZeroes(w.off, int64(len(w.data))); err != nil {
				t.Fatalf("WriteZeroes(%d, %d): %v", w.off, len(w.data), err)
			}
			continue
		}
		if n, err := img.WriteAt(w.data, w.off); err != nil || n != len(w.data) {
			t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", len(w.data), w.off, n, err)
		}
	}
}

// vxRef applies ws to a plain file with the os package alone: the
// expected content, independent of the code under test.
func vxRef(t testing.TB, path string, size int64, ws []vxWrite) []byte {
	t.Helper()
	b := make([]byte, size)
	if old, err := os.ReadFile(path); err == nil {
		copy(b, old)
	}
	for _, w := range ws {
		copy(b[w.off:], w.data)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// vxQemuRaw is the image's content as qemu-img sees it.
func vxQemuRaw(t testing.TB, path string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "qemu.raw")
	testenv.Qemu(t, "convert", "-f", "vhdx", "-O", "raw", path, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vxQemuAgrees runs qemu-img check on the VHDX and compares it with the
// expected raw content.
func vxQemuAgrees(t testing.TB, vhdx, raw string) {
	t.Helper()
	testenv.Qemu(t, "check", "-f", "vhdx", vhdx)
	testenv.Qemu(t, "compare", "-f", "vhdx", "-F", "raw", vhdx, raw)
}

// vxQemuIO runs qemu-io commands on an image (skip locally, fail in CI,
// when it is missing).
func vxQemuIO(t testing.TB, path string, cmds ...string) {
	t.Helper()
	bin, err := exec.LookPath("qemu-io")
	if err != nil {
		testenv.Missing(t, "qemu-io (Debian package qemu-utils)")
	}
	args := []string{"-f", "vhdx"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	if out, err := exec.Command(bin, append(args, path)...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io: %v\n%s", err, out)
	}
}

// vxCheckAllocated proves that Allocated() is sorted and merged, and that
// every byte outside it is zero.
func vxCheckAllocated(t testing.TB, img Image, content []byte) []Extent {
	t.Helper()
	ext, err := img.Allocated()
	if err != nil {
		t.Fatal(err)
	}
	pos := int64(0)
	for i, e := range ext {
		if e.Off < pos || e.Len <= 0 || (i > 0 && e.Off == pos) {
			t.Fatalf("Allocated() not sorted, merged and positive: %v", ext)
		}
		if i := vxNonZero(content[pos:e.Off]); i >= 0 {
			t.Fatalf("non-zero byte at %d outside Allocated() %v", pos+int64(i), ext)
		}
		pos = e.End()
	}
	if pos > int64(len(content)) {
		t.Fatalf("Allocated() %v runs past the size %d", ext, len(content))
	}
	if i := vxNonZero(content[pos:]); i >= 0 {
		t.Fatalf("non-zero byte at %d after the last allocated extent %v", pos+int64(i), ext)
	}
	return ext
}

func vxNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// vxCreate creates a VHDX through the package's Create.
func vxCreate(t testing.TB, path string, o CreateOptions) Image {
	t.Helper()
	o.Format = VHDX
	img, err := Create(path, o)
	if err != nil {
		t.Fatalf("Create(%+v): %v", o, err)
	}
	return img
}

// vxOpen opens a VHDX through the package's Open.
func vxOpen(t testing.TB, path string, readOnly bool) Image {
	t.Helper()
	img, err := Open(path, OpenOptions{Format: VHDX, ReadOnly: readOnly})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return img
}

func vxClose(t testing.TB, img Image) {
	t.Helper()
	if err := img.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

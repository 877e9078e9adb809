package vdisk

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// write is one write of a test pattern.
type write struct {
	off  int64
	data []byte
}

// scatter returns random writes over a disk of size bytes: whole blocks,
// small unaligned pieces, and writes that cross 2 MiB block boundaries,
// leaving most of the disk untouched.
func scatter(seed uint64, size int64) []write {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var ws []write
	add := func(off, n int64) {
		if off < 0 {
			off = 0
		}
		if off+n > size {
			n = size - off
		}
		if n <= 0 {
			return
		}
		ws = append(ws, write{off, randomBytes(r, n)})
	}
	for range 8 { // aligned 64 KiB .. 1 MiB
		add(r.Int64N(size/4096)*4096, (r.Int64N(16)+1)*64<<10)
	}
	for range 8 { // unaligned small
		add(r.Int64N(size), r.Int64N(3000)+1)
	}
	for range 4 { // across a 2 MiB boundary
		b := (r.Int64N(size/(2<<20)) + 1) * (2 << 20)
		add(b-r.Int64N(5000)-1, r.Int64N(10000)+2)
	}
	add(size-700, 700) // the very end
	add(0, 512)        // the very start
	return ws
}

func applyWrites(t *testing.T, img Image, ws []write) {
	t.Helper()
	for _, w := range ws {
		if n, err := img.WriteAt(w.data, w.off); err != nil || n != len(w.data) {
			t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", len(w.data), w.off, n, err)
		}
	}
}

// refRaw writes ws into a plain file with the os package alone: the
// expected content, independent of the code under test.
func refRaw(t *testing.T, dir string, size int64, ws []write) string {
	t.Helper()
	p := filepath.Join(dir, "ref.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if _, err := f.WriteAt(w.data, w.off); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// readAll reads the whole virtual disk in odd-sized pieces, so that reads
// cross block boundaries at many places.
func readAll(t testing.TB, img Image) []byte {
	t.Helper()
	b := make([]byte, img.Size())
	for off := int64(0); off < img.Size(); off += 3<<20 + 4096 {
		end := min(off+3<<20+4096, img.Size())
		if n, err := img.ReadAt(b[off:end], off); n != int(end-off) || err != nil {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", end-off, off, n, err)
		}
	}
	return b
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// qemuVirtualSize asks qemu-img for the virtual size of a file.
func qemuVirtualSize(t *testing.T, fmtName, p string) int64 {
	t.Helper()
	out := testenv.Qemu(t, "info", "-f", fmtName, "--output=json", p)
	var v struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("qemu-img info: %v\n%s", err, out)
	}
	return v.VirtualSize
}

// sameBytes fails with the first differing offset.
func sameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: first difference at offset %d: %#x, want %#x", what, i, got[i], want[i])
			}
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

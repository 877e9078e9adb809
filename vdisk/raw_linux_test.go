package vdisk

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRawAllocatedStaysSmallWhenFragmented: a raw file with a hole every
// 8 KiB (as cp --sparse makes of zero pages) lists a few extents, not one
// per hole, still covering every data byte, while a long hole stays a
// hole and Info counts only the data the file system holds.
func TestRawAllocatedStaysSmallWhenFragmented(t *testing.T) {
	const size = 64 << 20
	p := filepath.Join(t.TempDir(), "frag.raw")
	img, err := Create(p, CreateOptions{Format: Raw, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	want := make([]byte, size)
	for off := int64(0); off < 8<<20; off += 8 << 10 { // 1024 pages of data
		want[off] = 1
	}
	want[40<<20] = 2 // after a 32 MiB hole
	for off, b := range want {
		if b != 0 {
			if _, err := img.WriteAt([]byte{b}, int64(off)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := img.Flush(); err != nil {
		t.Fatal(err)
	}
	ext := vxCheckAllocated(t, img, want)
	if len(ext) != 2 || ext[0].Off != 0 || ext[1].Off > 40<<20 || ext[1].End() <= 40<<20 || ext[1].Off < 8<<20 {
		t.Fatalf("Allocated() has %d extents, starting %v; want the fragmented first 8 MiB as one extent and the lone page as another", len(ext), ext[:min(len(ext), 4)])
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if in := img.Info(); in.AllocatedBytes >= 8<<20 || in.AllocatedBytes < 1025*512 || in.FileSize != st.Size() {
		t.Fatalf("Info %+v: want the data pages only", in)
	}
}

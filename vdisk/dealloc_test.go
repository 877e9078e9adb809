package vdisk

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// TestDeallocateAndTrimGiveTheFileBack: blocks written at the end of a
// dynamic VHDX or VHD, then deallocated, are unallocated again and Trim
// cuts the file back to its old size; the image stays valid (reopened,
// qemu-img check and compare), and blocks written after the cut, in the
// space it gave back, read right after a reopen.
func TestDeallocateAndTrimGiveTheFileBack(t *testing.T) {
	for _, f := range []Format{VHDX, VHD} {
		t.Run(string(f), func(t *testing.T) {
			const size = 16 << 20
			dir := t.TempDir()
			p := filepath.Join(dir, "d."+string(f))
			rng := rand.New(rand.NewPCG(1, 2))
			img, err := Create(p, CreateOptions{Size: size, BlockSize: 2 << 20})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, size)
			copy(want[2<<20:], randomBytes(rng, 3<<20))
			if _, err := img.WriteAt(want[2<<20:5<<20], 2<<20); err != nil {
				t.Fatal(err)
			}
			if err := img.Flush(); err != nil {
				t.Fatal(err)
			}
			before, _ := img.Allocated()
			st0, _ := os.Stat(p)
			// New blocks at the end of the file, then given back.
			if _, err := img.WriteAt(randomBytes(rng, 4<<20), 10<<20); err != nil {
				t.Fatal(err)
			}
			if err := img.Flush(); err != nil {
				t.Fatal(err)
			}
			if st, _ := os.Stat(p); st.Size() <= st0.Size() {
				t.Fatalf("writing new blocks did not grow the file (%d -> %d)", st0.Size(), st.Size())
			}
			d := img.(Deallocator)
			if err := d.Deallocate(10<<20, 4<<20); err != nil {
				t.Fatal(err)
			}
			if err := d.Trim(); err != nil {
				t.Fatal(err)
			}
			if got, _ := img.Allocated(); !slices.Equal(got, before) {
				t.Fatalf("allocated %v after Deallocate, %v before", got, before)
			}
			if st, _ := os.Stat(p); st.Size() != st0.Size() {
				t.Fatalf("file %d bytes after Trim, %d before", st.Size(), st0.Size())
			}
			// Reuse of the space given back, then a reopen.
			copy(want[12<<20:], randomBytes(rng, 1<<20))
			if _, err := img.WriteAt(want[12<<20:13<<20], 12<<20); err != nil {
				t.Fatal(err)
			}
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			img, err = Open(p, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, img); !bytes.Equal(got, want) {
				t.Fatal("the image reads wrong after Trim, a new write and a reopen")
			}
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			raw := filepath.Join(dir, "want.raw")
			if err := os.WriteFile(raw, want, 0o600); err != nil {
				t.Fatal(err)
			}
			qf := string(f)
			if f == VHD {
				qf = "vpc"
			} else {
				testenv.Qemu(t, "check", "-f", qf, p)
			}
			testenv.Qemu(t, "compare", "-q", "-f", "raw", "-F", qf, raw, p)
		})
	}
}

// TestDeallocateOfPartialBlocksZeroes: a range that covers part of a
// block zeroes it in place, keeping the block.
func TestDeallocateOfPartialBlocksZeroes(t *testing.T) {
	for _, f := range []Format{VHDX, VHD} {
		t.Run(string(f), func(t *testing.T) {
			img, err := Create(filepath.Join(t.TempDir(), "d."+string(f)), CreateOptions{Size: 8 << 20, BlockSize: 2 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if _, err := img.WriteAt(bytes.Repeat([]byte{7}, 4<<20), 0); err != nil {
				t.Fatal(err)
			}
			if err := img.(Deallocator).Deallocate(1<<20, 2<<20); err != nil {
				t.Fatal(err)
			}
			if got, _ := img.Allocated(); !slices.Equal(got, []Extent{{0, 4 << 20}}) {
				t.Fatalf("allocated %v", got)
			}
			got := readAll(t, img)
			want := bytes.Repeat([]byte{7}, 4<<20)
			clear(want[1<<20 : 3<<20])
			if !bytes.Equal(got[:4<<20], want) {
				t.Fatal("partial deallocation did not zero the range")
			}
		})
	}
}

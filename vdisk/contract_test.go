package vdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// The contract every format keeps, checked by the same tests on each:
// raw, fixed and dynamic VHD, fixed and dynamic VHDX (both sector sizes),
// with a virtual size that is whole sectors but not whole blocks or pages.

type contractCase struct {
	name string
	o    CreateOptions
	qemu string // qemu-img format name
}

func contractCases(size int64) []contractCase {
	cs := []contractCase{
		{"raw", CreateOptions{Format: Raw}, "raw"},
		{"vhd-fixed", CreateOptions{Format: VHD, Fixed: true}, "vpc"},
		{"vhd-dynamic-512K", CreateOptions{Format: VHD, BlockSize: 512 << 10}, "vpc"},
		{"vhdx-dynamic-1M", CreateOptions{Format: VHDX, BlockSize: 1 << 20}, "vhdx"},
		{"vhdx-dynamic-4K-sectors", CreateOptions{Format: VHDX, BlockSize: 1 << 20, LogicalSector: 4096}, "vhdx"},
		{"vhdx-fixed-1M", CreateOptions{Format: VHDX, Fixed: true, BlockSize: 1 << 20}, "vhdx"},
		{"vhdx-block-larger-than-disk", CreateOptions{Format: VHDX, BlockSize: 64 << 20}, "vhdx"},
	}
	for i := range cs {
		cs[i].o.Size = size
		if cs[i].o.LogicalSector == 4096 {
			cs[i].o.Size = size / 4096 * 4096
		}
	}
	return cs
}

// TestImageContract applies random writes, zeroes, flushes and reads at
// byte granularity to every format and checks each read against a plain
// byte slice, reads and writes at and past the end, that Allocated covers
// every non-zero byte, and that the image reopens and reads the same for
// us and for qemu-img.
func TestImageContract(t *testing.T) {
	testenv.QemuImg(t)
	for _, c := range contractCases(3<<20 + 1536) {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "img")
			img, err := Create(p, c.o)
			if err != nil {
				t.Fatal(err)
			}
			size := c.o.Size
			want := make([]byte, size)
			r := rand.New(rand.NewPCG(uint64(len(c.name)), 7))
			fill := rand.NewChaCha8([32]byte{byte(len(c.name))})
			z := img.(Zeroer)
			for i := range 120 {
				off := r.Int64N(size)
				n := min(1+r.Int64N(1200<<10), size-off)
				if i%10 == 0 { // the tail
					off = size - n
				}
				switch r.IntN(5) {
				case 0, 1:
					p := make([]byte, n)
					fill.Read(p)
					if k, err := img.WriteAt(p, off); err != nil || int64(k) != n {
						t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", n, off, k, err)
					}
					copy(want[off:], p)
				case 2:
					if err := z.WriteZeroes(off, n); err != nil {
						t.Fatalf("WriteZeroes(%d, %d): %v", off, n, err)
					}
					clear(want[off : off+n])
				case 3:
					got := make([]byte, n)
					if k, err := img.ReadAt(got, off); err != nil || int64(k) != n {
						t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", n, off, k, err)
					}
					sameBytes(t, fmt.Sprintf("op %d: read %d bytes at %d", i, n, off), got, want[off:off+n])
				case 4:
					if err := img.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			checkEnds(t, img, want)
			vxCheckAllocated(t, img, readAll(t, img))
			sameBytes(t, "whole image", readAll(t, img), want)
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			img, err = Open(p, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "reopened", readAll(t, img), want)
			img.Close()
			ref := filepath.Join(t.TempDir(), "want.raw")
			if err := os.WriteFile(ref, want, 0o644); err != nil {
				t.Fatal(err)
			}
			vxQemuView(t, p, c.o.LogicalSector)
			testenv.Qemu(t, "compare", "-f", "raw", "-F", c.qemu, ref, p)
		})
	}
}

// checkEnds checks accesses at and past the virtual size.
func checkEnds(t *testing.T, img Image, want []byte) {
	t.Helper()
	size := img.Size()
	buf := make([]byte, 4096)
	if n, err := img.ReadAt(buf, size-100); n != 100 || err != io.EOF || !bytes.Equal(buf[:100], want[size-100:]) {
		t.Fatalf("read across the end = %d, %v; want 100, io.EOF and the last bytes", n, err)
	}
	if n, err := img.ReadAt(buf, size); n != 0 || err != io.EOF {
		t.Fatalf("read at the end = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := img.ReadAt(buf[:0], size); n != 0 || err != nil {
		t.Fatalf("empty read at the end = %d, %v", n, err)
	}
	if _, err := img.ReadAt(buf, -1); err == nil || err == io.EOF {
		t.Fatalf("read at -1 = %v, want an error", err)
	}
	if _, err := img.WriteAt(buf, size-100); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("write across the end = %v, want ErrOutOfRange", err)
	}
	if _, err := img.WriteAt(buf, size+4096); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("write past the end = %v, want ErrOutOfRange", err)
	}
	if err := img.(Zeroer).WriteZeroes(size-100, 101); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("WriteZeroes across the end = %v, want ErrOutOfRange", err)
	}
	got := make([]byte, 100)
	if _, err := img.ReadAt(got, size-100); err != nil || !bytes.Equal(got, want[size-100:]) {
		t.Fatalf("a refused write changed the tail: %v", err)
	}
}

// TestImageConcurrentStress: writers own interleaved slots (so several of
// them race to allocate each block), a zeroer zeroes whole blocks, readers
// check slots, and a flusher flushes, all at once, on every format. Every
// read of a slot sees exactly what its last write or zero left; at the end
// the image, a copy of its file taken after a Flush but without Close (a
// process killed then), and qemu-img all read the expected content. Run
// with -race.
func TestImageConcurrentStress(t *testing.T) {
	testenv.QemuImg(t)
	const slot = 64 << 10
	for _, c := range contractCases(8<<20 + 1536) {
		if c.o.Format == VHDX && c.o.BlockSize > 1<<20 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "img")
			img, err := Create(p, c.o)
			if err != nil {
				t.Fatal(err)
			}
			size := c.o.Size
			block := int64(1 << 20)
			nslots := int((size + slot - 1) / slot)
			want := make([]byte, size)
			locks := make([]sync.RWMutex, nslots)
			slotRange := func(s int) (int64, int64) { return int64(s) * slot, min(int64(s+1)*slot, size) }
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			fail := func(err error) {
				select {
				case errs <- err:
				default:
				}
			}
			const writers = 6
			stop := make(chan struct{})
			for w := range writers {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 1))
					for round := range 4 {
						for _, s := range r.Perm(nslots) {
							if s%writers != w {
								continue
							}
							off, end := slotRange(s)
							data := stressPattern(s, round, end-off)
							locks[s].Lock()
							var err error
							if r.IntN(6) == 0 {
								err = img.(Zeroer).WriteZeroes(off, end-off)
								clear(want[off:end])
							} else {
								_, err = img.WriteAt(data, off)
								copy(want[off:end], data)
							}
							locks[s].Unlock()
							if err != nil {
								fail(err)
								return
							}
						}
					}
				})
			}
			var bg sync.WaitGroup
			bg.Go(func() { // zero whole blocks, holding their slots
				r := rand.New(rand.NewPCG(9, 9))
				for {
					select {
					case <-stop:
						return
					default:
					}
					b := r.Int64N((size + block - 1) / block)
					off, end := b*block, min((b+1)*block, size)
					first, last := int(off/slot), int((end-1)/slot)
					for s := first; s <= last; s++ {
						locks[s].Lock()
					}
					err := img.(Zeroer).WriteZeroes(off, end-off)
					clear(want[off:end])
					for s := first; s <= last; s++ {
						locks[s].Unlock()
					}
					if err != nil {
						fail(err)
						return
					}
				}
			})
			for g := range 2 {
				bg.Go(func() { // read slots and check them
					r := rand.New(rand.NewPCG(uint64(g), 5))
					buf := make([]byte, slot)
					for {
						select {
						case <-stop:
							return
						default:
						}
						s := r.IntN(nslots)
						off, end := slotRange(s)
						locks[s].RLock()
						_, err := img.ReadAt(buf[:end-off], off)
						ok := bytes.Equal(buf[:end-off], want[off:end])
						locks[s].RUnlock()
						if err != nil || !ok {
							fail(fmt.Errorf("slot %d read wrong (%v)", s, err))
							return
						}
					}
				})
			}
			bg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := img.Flush(); err != nil {
						fail(err)
						return
					}
				}
			})
			wg.Wait()
			close(stop)
			bg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			sameBytes(t, "after the stress", readAll(t, img), want)
			if err := img.Flush(); err != nil {
				t.Fatal(err)
			}
			// A copy now is what a process killed after that Flush leaves.
			cp := filepath.Join(dir, "killed")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cp, b, 0o644); err != nil {
				t.Fatal(err)
			}
			img.Close()
			for _, f := range []string{cp, p} {
				img, err := Open(f, OpenOptions{Format: c.o.Format})
				if err != nil {
					t.Fatal(err)
				}
				sameBytes(t, f, readAll(t, img), want)
				if err := img.Close(); err != nil {
					t.Fatal(err)
				}
			}
			ref := filepath.Join(dir, "want.raw")
			if err := os.WriteFile(ref, want, 0o644); err != nil {
				t.Fatal(err)
			}
			vxQemuView(t, cp, c.o.LogicalSector)
			testenv.Qemu(t, "compare", "-f", "raw", "-F", c.qemu, ref, cp)
		})
	}
}

// stressPattern is slot s's content in round r: every 8-byte word names
// the slot, the round and its place, so a misplaced read is obvious.
func stressPattern(s, r int, n int64) []byte {
	b := make([]byte, n)
	for i := int64(0); i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], uint64(s)<<40|uint64(r+1)<<32|uint64(i)|1)
	}
	return b
}

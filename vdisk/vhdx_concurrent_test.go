package vdisk

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// TestVHDXConcurrentWriters: goroutines write interleaved 4 KiB slots, so
// several of them race to allocate the same blocks, while others read,
// zero whole blocks and flush. Every slot ends with its writer's last data,
// no block is allocated twice (qemu-img check), and the result equals the
// same writes done on a plain file. Run with -race.
func TestVHDXConcurrentWriters(t *testing.T) {
	testenv.QemuImg(t)
	const (
		size    = 32 << 20
		block   = 1 << 20
		workers = 8
		slot    = 4096
	)
	dir := t.TempDir()
	p := filepath.Join(dir, "busy.vhdx")
	img := vxCreate(t, p, CreateOptions{Size: size, BlockSize: block})
	// Blocks 28-31 get zeroed whole while written: their final content
	// depends on the order, so they are left out of the comparison below
	// and zeroed again at the end.
	var wg sync.WaitGroup
	errs := make(chan error, workers+2)
	final := make([][]byte, size/slot)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			for round := range 3 {
				for s := w; s < size/slot; s += workers {
					b := vxFill(slot, byte(1+w+round*workers))
					b[0] = byte(r.Uint32())
					if _, err := img.WriteAt(b, int64(s)*slot); err != nil {
						errs <- err
						return
					}
					if round == 2 {
						final[s] = b
					}
				}
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 3*block/2)
		for i := range 200 {
			if _, err := img.ReadAt(buf, int64(i%20)*block); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 20 {
			if err := img.(Zeroer).WriteZeroes(int64(28+i%4)*block, block); err != nil {
				errs <- err
				return
			}
			if err := img.Flush(); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err := errors.Join(func() (all []error) {
		for e := range errs {
			all = append(all, e)
		}
		return
	}()...); err != nil {
		t.Fatal(err)
	}
	if err := img.(Zeroer).WriteZeroes(28*block, 4*block); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	for s, b := range final {
		if int64(s)*slot < 28*block {
			copy(want[int64(s)*slot:], b)
		}
	}
	sameBytes(t, "after concurrent writes", readAll(t, img), want)
	vxClose(t, img)
	raw := filepath.Join(dir, "want.raw")
	if err := os.WriteFile(raw, want, 0o644); err != nil {
		t.Fatal(err)
	}
	vxQemuAgrees(t, p, raw)
}

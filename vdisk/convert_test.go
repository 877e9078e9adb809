package vdisk

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// TestCopyKeepsSparsenessAndContent copies a sparse dynamic VHD into each
// format and checks content (with qemu too) and that untouched blocks
// stay unallocated.
func TestCopyKeepsSparsenessAndContent(t *testing.T) {
	testenv.QemuImg(t)
	const size = 64 << 20
	dir := t.TempDir()
	ws := scatter(7, size)
	ref := refRaw(t, dir, size, ws)
	src, err := Create(filepath.Join(dir, "src.vhd"), CreateOptions{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	applyWrites(t, src, ws)
	srcAlloc, _ := src.Allocated()
	if extentBytes(srcAlloc) > size*3/4 {
		t.Fatalf("the source has %d of %d bytes allocated: too dense to show sparseness", extentBytes(srcAlloc), size)
	}
	for _, o := range []CreateOptions{{Format: Raw}, {Format: VHD}, {Format: VHD, Fixed: true}} {
		name := string(o.Format) + map[bool]string{true: "-fixed"}[o.Fixed]
		t.Run(name, func(t *testing.T) {
			o.Size = size
			p := filepath.Join(dir, "dst-"+name)
			dst, err := Create(p, o)
			if err != nil {
				t.Fatal(err)
			}
			var last, total int64
			if err := Copy(context.Background(), dst, src, func(d, tot int64) { last, total = d, tot }); err != nil {
				t.Fatal(err)
			}
			if last != total || total != extentBytes(srcAlloc) {
				t.Errorf("progress ended at %d of %d; source has %d allocated", last, total, extentBytes(srcAlloc))
			}
			eq, at, err := Compare(context.Background(), src, dst)
			if err != nil || !eq {
				t.Fatalf("Compare = %v at %d, %v", eq, at, err)
			}
			got := dst.Info().AllocatedBytes
			if got > extentBytes(srcAlloc)+(1<<20) {
				t.Errorf("destination has %d bytes allocated; source %d (sparseness lost)", got, extentBytes(srcAlloc))
			}
			if err := dst.Close(); err != nil {
				t.Fatal(err)
			}
			fm := map[Format]string{VHD: "vpc", Raw: "raw"}[o.Format]
			testenv.Qemu(t, "compare", "-f", "raw", "-F", fm, ref, p)
		})
	}
	src.Close()
}

func TestCompareFindsFirstDifference(t *testing.T) {
	dir := t.TempDir()
	a, _ := Create(filepath.Join(dir, "a.raw"), CreateOptions{Size: 8 << 20})
	b, _ := Create(filepath.Join(dir, "b.vhd"), CreateOptions{Size: 8 << 20})
	defer a.Close()
	defer b.Close()
	ws := scatter(3, 8<<20)
	applyWrites(t, a, ws)
	applyWrites(t, b, ws)
	if eq, at, err := Compare(context.Background(), a, b); !eq || at != -1 || err != nil {
		t.Fatalf("equal images: %v %d %v", eq, at, err)
	}
	// A difference inside a block only b has allocated.
	one := make([]byte, 1)
	if _, err := a.ReadAt(one, 6<<20+1236); err != nil {
		t.Fatal(err)
	}
	one[0] = ^one[0]
	if _, err := b.WriteAt(one, 6<<20+1236); err != nil {
		t.Fatal(err)
	}
	if eq, at, err := Compare(context.Background(), a, b); eq || at != 6<<20+1236 || err != nil {
		t.Fatalf("Compare = %v at %d, %v; want a difference at %d", eq, at, err, 6<<20+1236)
	}
	c, _ := Create(filepath.Join(dir, "c.raw"), CreateOptions{Size: 4 << 20})
	defer c.Close()
	applyWrites(t, c, ws[:1])
	d, _ := Create(filepath.Join(dir, "d.raw"), CreateOptions{Size: 5 << 20})
	defer d.Close()
	applyWrites(t, d, ws[:1])
	if eq, at, err := Compare(context.Background(), c, d); eq || at != 4<<20 || err != nil {
		t.Fatalf("different sizes: %v at %d, %v; want a difference at the end of the shorter", eq, at, err)
	}
}

func TestCopyStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	src, _ := Create(filepath.Join(dir, "s.raw"), CreateOptions{Size: 8 << 20})
	applyWrites(t, src, []write{{0, make([]byte, 8<<20)}})
	applyWrites(t, src, scatter(1, 8<<20))
	dst, _ := Create(filepath.Join(dir, "d.raw"), CreateOptions{Size: 8 << 20})
	defer src.Close()
	defer dst.Close()
	ctx, cancel := context.WithCancel(context.Background())
	err := Copy(ctx, dst, src, func(done, total int64) {
		if done >= 2<<20 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestVHDConcurrentWrites writes distinct ranges from several goroutines
// (as the sync engine does) and checks the result with qemu.
func TestVHDConcurrentWrites(t *testing.T) {
	testenv.QemuImg(t)
	const size = 32 << 20
	dir := t.TempDir()
	p := filepath.Join(dir, "c.vhd")
	img, err := Create(p, CreateOptions{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	var all []write
	for g := range 8 {
		for i := range 16 {
			off := int64(g*16+i) * (256 << 10)
			b := make([]byte, 64<<10)
			for j := range b {
				b[j] = byte(g*31 + i + j)
			}
			all = append(all, write{off + int64(i)*512, b})
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, w := range all[g*16 : g*16+16] {
				if _, err := img.WriteAt(w.data, w.off); err != nil {
					t.Error(err)
				}
				buf := make([]byte, 512)
				if _, err := img.ReadAt(buf, w.off); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	testenv.Qemu(t, "compare", "-f", "raw", "-F", "vpc", refRaw(t, dir, size, all), p)
}

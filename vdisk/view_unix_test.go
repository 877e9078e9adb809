//go:build unix

package vdisk

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// viewBytes returns a copy of what View lends at [off, off+n).
func viewBytes(t *testing.T, v Viewer, off, n int64) ([]byte, error) {
	t.Helper()
	var got []byte
	err := v.View(off, n, func(p []byte) { got = bytes.Clone(p) })
	return got, err
}

// TestViewEqualsRead: what a flat image (raw, fixed VHD) lends through its
// memory maps is byte for byte what ReadAt reads, at offsets inside a
// window, across windows' ends, at the disk's tail, with holes (zeros),
// from many goroutines at once, and after writes through WriteAt (the
// maps share the page cache with them).
func TestViewEqualsRead(t *testing.T) {
	const size = 3*viewWindow + 5<<20 + 4096 // a tail shorter than a window
	for _, o := range []CreateOptions{{Format: Raw}, {Format: VHD, Fixed: true}} {
		t.Run(string(o.Format), func(t *testing.T) {
			o.Size = size
			img, err := Create(filepath.Join(t.TempDir(), "d."+string(o.Format)), o)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			v, ok := img.(Viewer)
			if !ok {
				t.Fatalf("a %s image does not lend its bytes", o.Format)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			// Data in some MiB runs, holes elsewhere.
			for off := int64(0); off < size; off += 1 << 20 {
				if rng.IntN(3) > 0 {
					p := make([]byte, min(1<<20, size-off))
					for i := range p {
						p[i] = byte(rng.Uint32())
					}
					if _, err := img.WriteAt(p, off); err != nil {
						t.Fatal(err)
					}
				}
			}
			check := func(off, n int64) {
				t.Helper()
				want := make([]byte, n)
				if _, err := img.ReadAt(want, off); err != nil {
					t.Fatal(err)
				}
				got, err := viewBytes(t, v, off, n)
				if err != nil {
					t.Fatalf("view %d at %d: %v", n, off, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("view %d at %d differs from ReadAt", n, off)
				}
			}
			check(0, 1<<20)
			check(viewWindow-4096, 8192) // across a window's end
			check(viewWindow-1<<20, 3<<20)
			check(size-4096, 4096) // the tail
			check(size-(5<<20+4096), 5<<20+4096)
			check(12345, 1)
			// Rewritten bytes show through maps made before.
			p := bytes.Repeat([]byte{0xA5}, 1<<20)
			if _, err := img.WriteAt(p, 2<<20); err != nil {
				t.Fatal(err)
			}
			check(2<<20, 1<<20)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 1<<20)
					for off := int64(g) << 20; off+1<<20 <= size; off += 8 << 20 {
						if _, err := img.ReadAt(buf, off); err != nil {
							errs <- err
							return
						}
						if err := v.View(off, 1<<20, func(q []byte) {
							if !bytes.Equal(q, buf) {
								errs <- errors.New("a concurrent view differs from ReadAt")
							}
						}); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if err := v.View(size-4096, 8192, func([]byte) {}); !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("view past the disk's end: %v, want ErrOutOfRange", err)
			}
			fi := img.(*flatImage)
			if n := fi.views.live(); n > viewWindows {
				t.Fatalf("%d windows mapped, at most %d kept", n, viewWindows)
			}
			img.Close()
			if _, err := viewBytes(t, v, 0, 4096); !errors.Is(err, ErrNoView) {
				t.Fatalf("view after Close: %v, want ErrNoView", err)
			}
			if len(fi.views.wins) != 0 {
				t.Fatalf("%d windows still mapped after Close", len(fi.views.wins))
			}
		})
	}
}

// sink keeps a load the compiler must not drop.
var sink byte

// TestViewShortAndGrowingFile: a raw file cut shorter than the disk is
// not mapped past its end (ErrNoView: the caller reads zeros), a file
// grown again is mapped anew (not through a window made when it was
// short), and a file cut short while a view reads it is an error, not a
// crash.
func TestViewShortAndGrowingFile(t *testing.T) {
	const size = 2 * viewWindow
	path := filepath.Join(t.TempDir(), "d.raw")
	img, err := Create(path, CreateOptions{Format: Raw, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	v := img.(Viewer)
	data := bytes.Repeat([]byte("failback"), size/8)
	if _, err := img.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 3<<20); err != nil {
		t.Fatal(err)
	}
	if got, err := viewBytes(t, v, 1<<20, 1<<20); err != nil || !bytes.Equal(got, data[1<<20:2<<20]) {
		t.Fatalf("view inside the short file: %v", err)
	}
	if _, err := viewBytes(t, v, 4<<20, 1<<20); !errors.Is(err, ErrNoView) {
		t.Fatalf("view past the file's end: %v, want ErrNoView", err)
	}
	zeros := make([]byte, 1<<20)
	if _, err := img.ReadAt(zeros, 4<<20); err != nil || !bytes.Equal(zeros, make([]byte, 1<<20)) {
		t.Fatalf("read past the file's end: %v, want zeros", err)
	}
	// Grown again: the window mapped while it was 3 MiB long is replaced.
	if _, err := img.WriteAt(data[5<<20:6<<20], 5<<20); err != nil {
		t.Fatal(err)
	}
	if got, err := viewBytes(t, v, 5<<20, 1<<20); err != nil || !bytes.Equal(got, data[5<<20:6<<20]) {
		t.Fatalf("view of the grown file: %v", err)
	}
	if got, err := viewBytes(t, v, 4<<20, 1<<20); err != nil || !bytes.Equal(got, make([]byte, 1<<20)) {
		t.Fatalf("view of the hole the file grew over: %v", err)
	}
	// Cut short under a view: the read faults; View says so.
	err = v.View(0, 1<<20, func(p []byte) {
		if err := os.Truncate(path, 0); err != nil {
			t.Error(err)
		}
		sink = p[len(p)-1]
	})
	if err == nil || errors.Is(err, ErrNoView) {
		t.Fatalf("view of a file cut short under it: %v, want a read error", err)
	}
}

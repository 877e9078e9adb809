package vdisk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// flatImage is a disk whose virtual bytes sit at the same offsets in the
// file: a raw image, or a fixed VHD (whose footer follows the data). It
// relies on the file system for sparseness.
type flatImage struct {
	f    *os.File
	ro   bool
	size int64
	info Info

	closeOnce sync.Once
	closeErr  error
}

// openRaw opens a raw image; its virtual size is the file size.
func openRaw(path string, o OpenOptions) (Image, error) {
	f, err := openFile(path, o.ReadOnly)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return newFlat(f, o.ReadOnly, st.Size(), Info{Path: path, Format: Raw, LogicalSector: 512, PhysicalSector: 512}), nil
}

// createRaw makes a sparse file of the virtual size.
func createRaw(path string, o CreateOptions) (Image, error) {
	f, err := createFile(path)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(o.Size); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: set size: %w", path, err)
	}
	return newFlat(f, false, o.Size, Info{Path: path, Format: Raw, LogicalSector: 512, PhysicalSector: 512}), nil
}

func newFlat(f *os.File, ro bool, size int64, info Info) *flatImage {
	info.VirtualSize = size
	return &flatImage{f: f, ro: ro, size: size, info: info}
}

// openFile opens an existing image file, refusing directories with a
// message an operator understands.
func openFile(path string, ro bool) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such image file; check the path: %w", path, err)
		}
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a disk image file", path)
	}
	flag := os.O_RDWR
	if ro {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%s: no permission to open it for %s; check its permissions (and that no other program holds it): %w", path, map[bool]string{true: "reading", false: "writing"}[ro], err)
		}
		return nil, fmt.Errorf("open image: %w", err)
	}
	return f, nil
}

// createFile creates a new image file, never replacing an existing one.
func createFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) // the disk's contents: the user's only
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%s already exists; remove it or choose another name (images are never overwritten): %w", path, err)
		}
		return nil, fmt.Errorf("create image: %w", err)
	}
	return f, nil
}

// checkRange validates an access of n bytes at off against the size and
// returns how many bytes lie inside it.
func checkRange(off int64, n int, size int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset %d", ErrOutOfRange, off)
	}
	if off >= size {
		if n == 0 && off == size {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: offset %d is at or past the virtual size %d", ErrOutOfRange, off, size)
	}
	if int64(n) > size-off {
		return int(size - off), nil
	}
	return n, nil
}

func (r *flatImage) ReadAt(p []byte, off int64) (int, error) {
	n, err := checkRange(off, len(p), r.size)
	if err != nil {
		if off >= r.size && off >= 0 {
			return 0, io.EOF
		}
		return 0, err
	}
	m, err := r.f.ReadAt(p[:n], off)
	if err == io.EOF {
		// A file shorter than the virtual size (never for images we
		// create) reads as zeros past its end.
		clear(p[m:n])
		m, err = n, nil
	}
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return m, err
}

func (r *flatImage) WriteAt(p []byte, off int64) (int, error) {
	if r.ro {
		return 0, fmt.Errorf("%s: image is open read-only", r.info.Path)
	}
	n, err := checkRange(off, len(p), r.size)
	if err != nil {
		return 0, err
	}
	if n < len(p) {
		return 0, fmt.Errorf("%w: write of %d bytes at %d ends past the virtual size %d", ErrOutOfRange, len(p), off, r.size)
	}
	return r.f.WriteAt(p, off)
}

func (r *flatImage) Size() int64 { return r.size }

// Allocated asks the file system where its data is; elsewhere it
// reports the whole disk. A file can have a hole every few KiB (cp
// --sparse makes one per zero page), so holes shorter than
// allocGranule are reported as data: they read as zeros, which callers
// detect, and the list stays small whatever the fragmentation.
func (r *flatImage) Allocated() ([]Extent, error) {
	var out []Extent
	gap := allocGranule(r.size)
	err := walkData(r.f, r.size, func(off, end int64) {
		if n := len(out); n > 0 && off-out[n-1].End() < gap {
			out[n-1].Len = end - out[n-1].Off
			return
		}
		out = append(out, Extent{Off: off, Len: end - off})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: list allocated ranges: %w", r.info.Path, err)
	}
	return out, nil
}

// allocGranule is the shortest hole a flat image's Allocated reports: at
// least 1 MiB (the sync engine's default block, which a shorter hole
// cannot hold anyway), and large enough that the list has at most about
// 2^20 entries (16 MiB) for any disk size.
func allocGranule(size int64) int64 { return max(1<<20, size>>20) }

// dataBytes is the exact number of bytes the file system holds as data.
func (r *flatImage) dataBytes() (int64, error) {
	var n int64
	err := walkData(r.f, r.size, func(off, end int64) { n += end - off })
	return n, err
}

// WriteZeroes punches a hole where the file system can, and writes zeros
// elsewhere.
func (r *flatImage) WriteZeroes(off, n int64) error {
	if r.ro {
		return fmt.Errorf("%s: image is open read-only", r.info.Path)
	}
	if off < 0 || n < 0 || off > r.size || n > r.size-off {
		return fmt.Errorf("%w: zero %d bytes at %d on a disk of %d", ErrOutOfRange, n, off, r.size)
	}
	return zeroFileRange(r.f, off, n)
}

func (r *flatImage) Flush() error {
	if r.ro {
		return nil
	}
	return r.f.Sync()
}

func (r *flatImage) Close() error {
	r.closeOnce.Do(func() {
		err := r.Flush()
		if cerr := r.f.Close(); err == nil {
			err = cerr
		}
		r.closeErr = err
	})
	return r.closeErr
}

func (r *flatImage) Info() Info {
	in := r.info
	if st, err := r.f.Stat(); err == nil {
		in.FileSize = st.Size()
	}
	if n, err := r.dataBytes(); err == nil {
		in.AllocatedBytes = n
	}
	return in
}

// zeroFileRange turns [off, off+n) of f into zeros, releasing space when
// the file system can punch holes.
func zeroFileRange(f *os.File, off, n int64) error {
	if n == 0 {
		return nil
	}
	if punchHole(f, off, n) == nil {
		return nil
	}
	return writeZeros(f, off, n)
}

// writeZeros writes n zero bytes at off in bounded chunks.
func writeZeros(f *os.File, off, n int64) error {
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		c := min(n, int64(len(buf)))
		if _, err := f.WriteAt(buf[:c], off); err != nil {
			return err
		}
		off += c
		n -= c
	}
	return nil
}

func extentBytes(ext []Extent) int64 {
	var t int64
	for _, e := range ext {
		t += e.Len
	}
	return t
}

// appendExtent adds e to a sorted list, merging it with the last entry
// when they touch.
func appendExtent(list []Extent, e Extent) []Extent {
	if e.Len <= 0 {
		return list
	}
	if n := len(list); n > 0 && list[n-1].End() >= e.Off {
		if e.End() > list[n-1].End() {
			list[n-1].Len = e.End() - list[n-1].Off
		}
		return list
	}
	return append(list, e)
}

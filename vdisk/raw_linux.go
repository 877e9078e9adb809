package vdisk

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// walkData calls fn for each data range of f below limit, in order, found
// with SEEK_DATA and SEEK_HOLE. A file system without them reports one
// range. Nothing is kept per range.
func walkData(f *os.File, limit int64, fn func(off, end int64)) error {
	fd := int(f.Fd())
	off := int64(0)
	for off < limit {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil {
			if errors.Is(err, unix.ENXIO) {
				break
			}
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
				fn(off, limit)
				return nil
			}
			return err
		}
		if data >= limit {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		hole = min(hole, limit)
		fn(data, hole)
		off = hole
	}
	// A file shorter than limit reads zeros past its end: nothing more.
	return nil
}

// punchHole deallocates [off, off+n) keeping the file size; partial file
// system blocks are zeroed by the kernel.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

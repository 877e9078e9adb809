package vdisk

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// fileExtents lists the data ranges of f below limit with SEEK_DATA and
// SEEK_HOLE, merged. A file system without them reports one range.
func fileExtents(f *os.File, limit int64) ([]Extent, error) {
	fd := int(f.Fd())
	var out []Extent
	off := int64(0)
	for off < limit {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil {
			if errors.Is(err, unix.ENXIO) {
				break
			}
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
				return []Extent{{0, limit}}, nil
			}
			return nil, err
		}
		if data >= limit {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		hole = min(hole, limit)
		out = appendExtent(out, Extent{Off: data, Len: hole - data})
		off = hole
	}
	// A file shorter than limit reads zeros past its end: nothing more.
	return out, nil
}

// punchHole deallocates [off, off+n) keeping the file size; partial file
// system blocks are zeroed by the kernel.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

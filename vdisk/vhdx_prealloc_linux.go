package vdisk

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves [off, off+n) of a fixed disk so that writes to it
// cannot fail for lack of space later, as a fixed disk promises. File
// systems that cannot do it (EOPNOTSUPP) keep a sparse file.
func preallocate(f *os.File, off, n int64) error {
	if n == 0 {
		return nil
	}
	err := unix.Fallocate(int(f.Fd()), 0, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return nil
	}
	return err
}

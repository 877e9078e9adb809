//go:build unix

package hyperv

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// flockFile takes an advisory flock(2) on f. With wait false it fails at
// once with errLocked when another open file holds a conflicting lock. The
// lock belongs to the open file: it is released when f is closed, also when
// the process dies, so a crash never leaves a disk locked.
func flockFile(f *os.File, exclusive, wait bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errLocked
		}
		return err
	}
}

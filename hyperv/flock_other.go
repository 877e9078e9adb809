//go:build !unix && !windows

package hyperv

import (
	"errors"
	"os"
)

func flockFile(f *os.File, exclusive, wait bool) error {
	return errors.New("file locks are not supported on this system; the lab host needs Linux, macOS or Windows")
}

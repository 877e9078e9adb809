//go:build !unix && !windows

package osfile

import (
	"errors"
	"os"
)

func lockFile(*os.File, bool, bool) error {
	return errors.New("file locks are not supported on this system; failback's shared state needs Linux, macOS or Windows")
}

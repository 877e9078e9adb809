//go:build !windows

package azure

import (
	"errors"
	"syscall"
)

// refused reports a refused connection.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

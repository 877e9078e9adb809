//go:build windows

package azure

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// refused reports a refused connection. Windows reports WSAECONNREFUSED,
// which syscall.ECONNREFUSED does not match there.
func refused(err error) bool {
	return errors.Is(err, windows.WSAECONNREFUSED) || errors.Is(err, syscall.ECONNREFUSED)
}

//go:build unix

package lab

import (
	"errors"
	"syscall"
)

func signalTerm(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }
func signalKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// alive reports whether pid is a running process (not a zombie).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !zombie(pid)
}

func platformCheck() error { return nil }

//go:build !unix

package lab

import (
	"errors"
	"syscall"
)

var errUnsupported = errors.New("the lab runs on Linux and macOS only")

func detachAttr(bool) *syscall.SysProcAttr { return nil }
func cmdline(int) ([]string, error)        { return nil, errUnsupported }
func alive(int) bool                       { return false }
func signalTerm(int) error                 { return errUnsupported }
func signalKill(int) error                 { return errUnsupported }

func platformCheck() error                    { return errUnsupported }
func findProcesses(func([]string) bool) []int { return nil }

//go:build unix && !linux

package lab

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

func detachAttr(bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// cmdline asks ps for a process's arguments. ps joins them with spaces,
// which is enough to recognise the lab's own processes.
func cmdline(pid int) ([]string, error) {
	out, err := exec.Command("ps", "-o", "command=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

func zombie(pid int) bool {
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && strings.HasPrefix(strings.TrimSpace(string(out)), "Z")
}

// findProcesses is not available without /proc; lab down relies on the
// pids in lab.json.
func findProcesses(func([]string) bool) []int { return nil }

package lab

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// detachAttr puts the child in a session of its own (no terminal signals
// reach it); tie makes it die with this process.
func detachAttr(tie bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setsid: true}
	if tie {
		a.Pdeathsig = syscall.SIGTERM
	}
	return a
}

// cmdline reads a process's arguments from /proc.
func cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\x00")
	return strings.Split(string(b), "\x00"), nil
}

// zombie reports whether pid has exited but was not reaped yet.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself hold spaces or parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// findProcesses lists the processes whose command line matches.
func findProcesses(match func([]string) bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if argv, err := cmdline(pid); err == nil && match(argv) && !zombie(pid) {
			out = append(out, pid)
		}
	}
	return out
}

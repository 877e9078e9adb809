package mover

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/failback/failback/internal/osfile"
)

// layout is the host's state folder (see doc.go).
type layout struct{ root string }

// checkName refuses a name that would not stay one folder inside the
// state folder, on either system.
func checkName(what, s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("%w: %s %q is not a folder name", ErrProtocol, what, s)
	case len(s) > 200:
		return fmt.Errorf("%w: %s of %d characters", ErrProtocol, what, len(s))
	case strings.ContainsAny(s, `/\:*?"<>|`) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 }):
		return fmt.Errorf("%w: %s %q holds a character no folder name may hold", ErrProtocol, what, s)
	case strings.TrimRight(s, ". ") != s:
		return fmt.Errorf("%w: %s %q ends in a dot or a space", ErrProtocol, what, s)
	}
	return nil
}

func (k DiskKey) check() error {
	if err := checkName("job", k.Job); err != nil {
		return err
	}
	if err := checkName("VM", k.VM); err != nil {
		return err
	}
	if k.Disk < 0 || k.Disk > 1000 {
		return fmt.Errorf("%w: disk number %d", ErrProtocol, k.Disk)
	}
	return nil
}

func (l layout) job(id string) string { return filepath.Join(l.root, "jobs", id) }

func (l layout) disk(k DiskKey) string {
	return filepath.Join(l.job(k.Job), "disks", k.VM, strconv.Itoa(k.Disk))
}

func (l layout) pass(k DiskKey, n int) (string, error) {
	if err := k.check(); err != nil {
		return "", err
	}
	if n < 0 || n > 1_000_000 {
		return "", fmt.Errorf("%w: pass number %d", ErrProtocol, n)
	}
	return filepath.Join(l.disk(k), "pass-"+strconv.Itoa(n)), nil
}

func (l layout) sums(k DiskKey) (string, error) {
	if err := k.check(); err != nil {
		return "", err
	}
	return filepath.Join(l.disk(k), "sums"), nil
}

// LockDir is where the disks' write locks live on the host.
func (h *Local) LockDir() string { return filepath.Join(h.l.root, "disklocks") }

// prune removes the disk's folder and the job's when they are empty.
func (l layout) prune(k DiskKey) {
	for _, d := range []string{l.disk(k), filepath.Join(l.job(k.Job), "disks", k.VM), filepath.Join(l.job(k.Job), "disks"), l.job(k.Job)} {
		if os.Remove(d) != nil {
			return
		}
	}
}

// mkdirPrivate makes the state folder's subfolders, readable by the
// mover's user only: journals hold the old bytes of disks.
func mkdirPrivate(dir string) error { return os.MkdirAll(dir, osfile.PrivateDir) }

package osfile

import (
	"errors"
	"fmt"
	"os"
)

// Modes of everything failback creates: its state (job records, journals,
// audit logs, sums, locks, the control socket) and the disk images it
// writes (a decrypted image is the disk's plaintext) are for the user
// running failback only.
const (
	PrivateDir  os.FileMode = 0o700
	PrivateFile os.FileMode = 0o600
)

// ErrNotPrivate: a folder failback must trust is a symbolic link, is
// owned by another user, or lets other users in.
var ErrNotPrivate = errors.New("not a private folder of this user")

// OwnedPrivateDir makes dir a folder only this process's user can use:
// it creates it (mode 0700) when missing, and refuses with ErrNotPrivate
// an existing one that is a symbolic link, belongs to another user, or
// has any permission for group or others. It never changes or uses a
// folder it did not create and does not own: in a shared folder such as
// /tmp, another user may have created the name first to take over what
// failback puts there. (On Windows only existence is checked: per-user
// folders and ACLs, not modes, protect there.)
func OwnedPrivateDir(dir string) error {
	if err := os.Mkdir(dir, PrivateDir); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return checkPrivateDir(dir, os.Getuid(), true)
}

// CheckTrustedDir checks, without creating anything, that dir is a real
// folder owned by this user, by root, or by uid trust (-1: none), and
// that no other user may write in it.
func CheckTrustedDir(dir string, trust int) error {
	if err := checkPrivateDir(dir, os.Getuid(), false); err == nil || trust < 0 || !errors.Is(err, ErrNotPrivate) {
		return err
	}
	return checkPrivateDir(dir, trust, false)
}

// TightenDir takes every permission of group and others off dir when this
// user owns it (a state folder created 0755 by an older failback or by
// hand). It reports whether it changed the mode.
func TightenDir(dir string) (bool, error) {
	st, err := os.Lstat(dir)
	if err != nil {
		return false, err
	}
	uid, ok := fileOwner(st)
	if !ok || uid != os.Getuid() || !st.IsDir() || st.Mode().Perm()&0o077 == 0 {
		return false, nil
	}
	return true, os.Chmod(dir, st.Mode().Perm()&^0o077)
}

func notPrivate(dir, why string) error {
	return fmt.Errorf("%s: %w: %s", dir, ErrNotPrivate, why)
}

// Owner is the uid that owns path, or -1 where that is unknown.
func Owner(path string) int {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	if uid, ok := fileOwner(st); ok {
		return uid
	}
	return -1
}

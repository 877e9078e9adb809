//go:build !unix

package osfile

import (
	"net"
	"os"
)

func fileOwner(os.FileInfo) (int, bool) { return 0, false }

// checkPrivateDir checks existence only: per-user folders and ACLs, not
// modes, protect on Windows.
func checkPrivateDir(dir string, _ int, _ bool) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return notPrivate(dir, "it is not a folder")
	}
	return nil
}

// ListenPrivate listens on a unix socket at path (its folder's ACL
// protects it).
func ListenPrivate(path string) (net.Listener, error) { return net.Listen("unix", path) }

//go:build !unix

package engine

import "os"

// lockFile only creates path: on systems without flock two syncs on one
// journal directory are not prevented (the console runs one job per disk).
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// syncDir does nothing: Windows cannot fsync a directory, and NTFS
// journals its metadata itself.
func syncDir(string) error { return nil }

//go:build !unix

package engine

// syncDir does nothing: Windows cannot fsync a directory, and NTFS
// journals its metadata itself.
func syncDir(string) error { return nil }

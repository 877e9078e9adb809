// Package osfile holds the two file primitives that let separate failback
// processes share state in a folder: an advisory lock that dies with its
// process, and an atomic replace that readers never see half done (of
// bytes, or of a value as JSON); and a bounded read for small files an
// operator names (certificates, keys).
package osfile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
)

// ErrLocked: another open file (in this process or another) holds a
// conflicting lock.
var ErrLocked = errors.New("locked by another process")

// Lock takes an advisory lock on f: flock(2) on Unix, LockFileEx on the
// first byte on Windows. With wait false it fails at once with ErrLocked
// when the lock is taken. The lock belongs to the open file: closing f
// releases it, and so does the end of the process, so a crash never
// leaves it behind. Two opens of one file conflict even in one process.
func Lock(f *os.File, exclusive, wait bool) error { return lockFile(f, exclusive, wait) }

// TryLockPath reports whether anyone holds a lock on path, by trying to
// take it exclusively for a moment. A file that does not exist is not
// locked.
func TryLockPath(path string) (held bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = Lock(f, true, false)
	if errors.Is(err, ErrLocked) {
		return true, nil
	}
	return false, err
}

// WriteAtomic replaces path with data so that a reader (or a crash) sees
// the old file or the new one, never a mix: a temporary file in the same
// folder, flushed, renamed over path, and the folder flushed.
func WriteAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// WriteJSON replaces path with v as indented JSON and a final newline,
// through WriteAtomic: the one shape of failback's state files, which
// operators read and diff by hand.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteAtomic(path, append(b, '\n'))
}

// syncDir flushes a folder's entries; where folders cannot be opened
// (Windows) the rename is as durable as the system makes it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

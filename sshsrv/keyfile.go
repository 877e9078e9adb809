package sshsrv

import (
	"fmt"
	"os"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// keyFile is the authorized-keys file, re-read when its size or
// modification time changes. If an edit breaks it, the last good
// version stays in force and the error is reported.
type keyFile struct {
	path string

	mu    sync.Mutex
	keys  *authorized
	mtime time.Time
	size  int64
	warn  func(error)
}

func newKeyFile(path string) (*keyFile, error) {
	if path == "" {
		return nil, fmt.Errorf("no authorized-keys file: set one (lines like \"role=operator ssh-ed25519 AAAA... alice\")")
	}
	k := &keyFile{path: path}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keyFile) reload() error {
	st, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("authorized keys: %w", err)
	}
	if k.keys != nil && st.ModTime().Equal(k.mtime) && st.Size() == k.size {
		return nil
	}
	a, err := loadAuthorized(k.path)
	if err != nil {
		return err
	}
	k.keys, k.mtime, k.size = a, st.ModTime(), st.Size()
	return nil
}

// lookup returns the entry for key from the current file.
func (k *keyFile) lookup(key gossh.PublicKey) (entry, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reload(); err != nil && k.warn != nil {
		k.warn(err)
	}
	return k.keys.lookup(key)
}

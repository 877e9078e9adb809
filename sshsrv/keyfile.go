package sshsrv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// keyFile is the authorized-keys file, re-read when its size or
// modification time changes; every login, every action and the session
// watch ask it, so a change takes effect at once. A line that does not
// parse grants nothing and is reported; the other lines stay in force (a
// key removed in the same edit is gone, never kept by a typo elsewhere).
// If the file cannot be read at all, the last version read stays.
type keyFile struct {
	path string
	warn func(string) // reports refused lines and unsafe permissions

	mu       sync.Mutex
	keys     *authorized
	mtime    time.Time
	size     int64
	modeSeen string // the permission warning last given, to give it once
}

// newKeyFile reads the file; any refused line is an error here, so a
// server never starts on a file it half ignores.
func newKeyFile(path string, warn func(string)) (*keyFile, error) {
	if path == "" {
		return nil, fmt.Errorf("no authorized-keys file: set one (lines like \"role=operator ssh-ed25519 AAAA... alice\")")
	}
	if warn == nil {
		warn = func(string) {}
	}
	k := &keyFile{path: path, warn: warn}
	bad, err := k.reload()
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("authorized keys: %w", errors.Join(lineErrs(bad)...))
	}
	return k, nil
}

func lineErrs(bad []lineError) []error {
	out := make([]error, len(bad))
	for i, b := range bad {
		out[i] = b
	}
	return out
}

// reload re-reads the file when it changed; call with k.mu held (or
// before k is shared). It returns the refused lines of a new version.
func (k *keyFile) reload() ([]lineError, error) {
	st, err := os.Stat(k.path)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w (create it with one \"role=operator ssh-ed25519 AAAA... name\" line per person)", err)
	}
	k.checkMode(st)
	if k.keys != nil && st.ModTime().Equal(k.mtime) && st.Size() == k.size {
		return nil, nil
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		return nil, fmt.Errorf("read authorized keys: %w", err)
	}
	// An editor writing in place: read again once it has settled, rather
	// than act (and close sessions) on half a file.
	if after, err := os.Stat(k.path); err != nil || !after.ModTime().Equal(st.ModTime()) || after.Size() != int64(len(data)) {
		if k.keys != nil {
			return nil, nil
		}
		if data, err = os.ReadFile(k.path); err != nil {
			return nil, fmt.Errorf("read authorized keys: %w", err)
		}
	}
	a, bad := parseAuthorized(k.path, data)
	k.keys, k.mtime, k.size = a, st.ModTime(), int64(len(data))
	return bad, nil
}

// checkMode warns (once per state) when others may write the file or
// its folder: whoever can write it can make themselves an operator.
func (k *keyFile) checkMode(st os.FileInfo) {
	if runtime.GOOS == "windows" {
		return
	}
	msg := ""
	dir := filepath.Dir(k.path)
	switch dst, err := os.Stat(dir); {
	case st.Mode().Perm()&0o002 != 0:
		msg = fmt.Sprintf("authorized keys %s is writable by every user (mode %04o): anyone on this machine can make themselves an operator; run chmod o-w %s", k.path, st.Mode().Perm(), k.path)
	case err == nil && dst.Mode().Perm()&0o002 != 0 && dst.Mode()&os.ModeSticky == 0:
		msg = fmt.Sprintf("the folder %s of the authorized keys is writable by every user (mode %04o): anyone can replace the file; run chmod o-w %s", dir, dst.Mode().Perm(), dir)
	}
	if msg != "" && msg != k.modeSeen {
		k.warn(msg)
	}
	k.modeSeen = msg
}

// current re-reads the file when it changed and returns what is in force.
func (k *keyFile) current() *authorized {
	k.mu.Lock()
	defer k.mu.Unlock()
	bad, err := k.reload()
	switch {
	case err != nil:
		k.warn(fmt.Sprintf("authorized keys unchanged: %v", err))
	case len(bad) > 0:
		for _, b := range bad {
			k.warn(fmt.Sprintf("authorized keys: line refused, it grants nothing: %v", b))
		}
	}
	return k.keys
}

// lookup returns the entry for key from the current file.
func (k *keyFile) lookup(key gossh.PublicKey) (entry, bool) {
	return k.current().lookup(key)
}

// admit returns the entry for key when it may be used from addr now, or
// why not.
func (k *keyFile) admit(key gossh.PublicKey, addr net.Addr, now time.Time) (entry, string) {
	e, ok := k.lookup(key)
	if !ok {
		return e, "not in the authorized-keys file"
	}
	if why := e.admits(addr, now); why != "" {
		return e, why
	}
	return e, ""
}

//go:build unix

package osfile

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
)

func fileOwner(st os.FileInfo) (int, bool) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid), true
	}
	return 0, false
}

// checkPrivateDir: dir is a folder (not a link) owned by uid or root (when
// rootOK is false the owner must be this user or uid exactly), with no
// access for others at all (strict) or no write access for them.
func checkPrivateDir(dir string, uid int, strict bool) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 || !st.IsDir() {
		return notPrivate(dir, "it is not a folder but "+st.Mode().Type().String())
	}
	owner, _ := fileOwner(st)
	if owner != uid && !(!strict && owner == 0) {
		return notPrivate(dir, fmt.Sprintf("it belongs to uid %d, not to uid %d", owner, uid))
	}
	mask := os.FileMode(0o022)
	if strict {
		mask = 0o077
	}
	if st.Mode().Perm()&mask != 0 {
		return notPrivate(dir, fmt.Sprintf("its mode %04o lets other users in", st.Mode().Perm()))
	}
	return nil
}

// umaskMu serialises the umask change of ListenPrivate.
var umaskMu sync.Mutex

// ListenPrivate listens on a unix socket at path that is mode 0600 from
// the moment it exists: the process's umask is 077 while it is created
// (no window in which another user could connect), and the mode is set
// again after, whatever the umask was.
func ListenPrivate(path string) (net.Listener, error) {
	umaskMu.Lock()
	old := syscall.Umask(0o077)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	umaskMu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, PrivateFile); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

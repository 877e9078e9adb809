package osfile

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// PeerCred returns the user and process at the other end of a unix socket
// connection, as the kernel recorded them when it connected (SO_PEERCRED):
// not what the peer says about itself. ok is false when c is not a unix
// socket or the system does not tell.
func PeerCred(c net.Conn) (uid, pid int, ok bool) {
	sc, isSys := c.(syscall.Conn)
	if !isSys {
		return 0, 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil || cerr != nil {
		return 0, 0, false
	}
	return int(cred.Uid), int(cred.Pid), true
}

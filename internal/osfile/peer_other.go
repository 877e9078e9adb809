//go:build !linux

package osfile

import "net"

// PeerCred reports ok false where failback does not read the peer's
// credentials; the control socket's private folder and mode are then
// what keeps other users out.
func PeerCred(net.Conn) (uid, pid int, ok bool) { return 0, 0, false }

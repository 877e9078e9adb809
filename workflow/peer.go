package workflow

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"

	"github.com/failback/failback/internal/osfile"
)

// peer is who is at the other end of a control socket connection, as the
// kernel says.
type peer struct {
	uid, pid int
	known    bool // false where the system does not tell (see osfile.PeerCred)
}

type peerKey struct{}

func peerOf(c net.Conn) peer {
	uid, pid, ok := osfile.PeerCred(c)
	return peer{uid: uid, pid: pid, known: ok}
}

// trusted says whether uid may use this process's jobs: its own user or
// root.
func trusted(uid int) bool { return uid == os.Getuid() || uid == 0 }

// onlyOurUser refuses requests from a peer of another user (the socket's
// mode keeps them out; this holds even if a mode were wrong).
func onlyOurUser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, _ := r.Context().Value(peerKey{}).(peer); p.known && !trusted(p.uid) {
			reply(w, nil, fmt.Errorf("control socket: uid %d is neither this process's user nor root: %w", p.uid, ErrNotAllowed))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// callerActor is who asks through the socket: the peer's user name as an
// operator. The request's own actor counts only to lower the role to
// viewer and to say which front end it is ("cli" or "console"); its name
// is never used.
func callerActor(ctx context.Context, claimed Actor) Actor {
	p, _ := ctx.Value(peerKey{}).(peer)
	uid := os.Getuid()
	if p.known {
		uid = p.uid
	}
	a := Actor{Name: userName(uid), Role: RoleOperator, Via: "socket"}
	if claimed.Role == RoleViewer {
		a.Role = RoleViewer
	}
	switch claimed.Via {
	case "cli", "console":
		a.Via = claimed.Via
	}
	return a
}

// userName is uid's login name, or "uid N" when it has none.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}

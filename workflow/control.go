package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// The control socket: the process that drives a state folder's jobs
// serves Service over HTTP+JSON on a unix socket, so script commands and
// other consoles started later go through it instead of driving the same
// jobs twice. The socket is private to the user: mode 0600 from the moment
// it exists, in a folder that is the user's own and 0700 (the state
// folder, or failback-<uid> in the temporary folder when that path is too
// long; a folder another user made is refused, never used). Whoever may
// connect may act, as whoever may read the state folder could, but who
// they are comes from the kernel, never from the request: the peer's uid
// (SO_PEERCRED) names the actor in the audit log, and a peer of another
// user than this process's (or root) is refused. A request may lower its
// own role to viewer, never raise it. (SSH sessions never cross the
// socket: failback serve drives the jobs itself and names each session's
// actor from its own record of the key.)

// controlInfo is state_dir/control.json: where the socket is and who
// serves it.
type controlInfo struct {
	Socket  string    `json:"socket"`
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// longPoll bounds one /v1/wait request.
const longPoll = 25 * time.Second

type controlServer struct {
	srv  *http.Server
	ln   net.Listener
	info controlInfo
	file string
}

// socketPath is state_dir/control.sock, or a short path in the temporary
// folder when that is too long for a unix socket (about 100 bytes). The
// socket's folder must be this user's own, 0700 (created so if missing).
func socketPath(root string) (string, error) {
	p := filepath.Join(root, "control.sock")
	if len(p) < 100 {
		if err := osfile.OwnedPrivateDir(root); err != nil {
			return "", fmt.Errorf("the state folder holds the control socket and must be this user's own, mode 0700: %w; run failback as the folder's owner (or chown the folder to this user, then chmod 700 it)", err)
		}
		return p, nil
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "failback-"+strconv.Itoa(os.Getuid()))
	if err := osfile.OwnedPrivateDir(dir); err != nil {
		return "", fmt.Errorf("the control socket's folder %w; it is never used unless it is this user's own, mode 0700: remove it (another user may have made it to take over failback's control socket), or set TMPDIR to a folder of your own", err)
	}
	return filepath.Join(dir, hex.EncodeToString(sum[:8])+".sock"), nil
}

func serveControl(m *Manager) (*controlServer, error) {
	sock, err := socketPath(m.paths.root)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	os.Remove(sock) // we hold the state lock: a socket file left here is stale
	ln, err := osfile.ListenPrivate(sock)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", sock, err)
	}
	cs := &controlServer{ln: ln, file: m.paths.control(),
		info: controlInfo{Socket: sock, PID: os.Getpid(), Command: m.deps.Command, Since: time.Now().UTC()}}
	cs.srv = &http.Server{Handler: onlyOurUser(controlMux(m)), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return m.ctx },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, peerOf(c))
		}}
	if err := writeJSONAtomic(cs.file, cs.info); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control file %s: %w", cs.file, err)
	}
	go func() { _ = cs.srv.Serve(ln) }()
	return cs, nil
}

func (cs *controlServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = cs.srv.Shutdown(ctx)
	_ = cs.srv.Close()
	os.Remove(cs.info.Socket)
	os.Remove(cs.file)
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		kind, code := errorKind(err)
		we := wireError{Error: err.Error(), Kind: kind}
		var pe *PreflightError
		if errors.As(err, &pe) {
			we.Report = &pe.Report
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(we)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func decode(r *http.Request) (request, error) {
	var q request
	err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&q)
	return q, err
}

func controlMux(m *Manager) *http.ServeMux {
	mux := http.NewServeMux()
	get := func(rt route, f func(r *http.Request) (any, error)) {
		mux.HandleFunc(rt.pattern(), func(w http.ResponseWriter, r *http.Request) { v, err := f(r); reply(w, v, err) })
	}
	post := func(rt route, f func(ctx context.Context, q request) (any, error)) {
		mux.HandleFunc(rt.pattern(), func(w http.ResponseWriter, r *http.Request) {
			q, err := decode(r)
			if err != nil {
				reply(w, nil, fmt.Errorf("bad request: %w", err))
				return
			}
			v, err := f(r.Context(), q)
			reply(w, v, err)
		})
	}
	get(routePing, func(*http.Request) (any, error) { return map[string]int{"pid": os.Getpid()}, nil })
	get(routePlans, func(*http.Request) (any, error) { return m.Plans(), nil })
	get(routeSites, func(*http.Request) (any, error) { return m.Sites(), nil })
	get(routeJobs, func(*http.Request) (any, error) { return m.Jobs(), nil })
	get(routeJob, func(r *http.Request) (any, error) {
		id := r.URL.Query().Get(paramID)
		if v, ok := m.Job(id); ok {
			return v, nil
		}
		return nil, fmt.Errorf("job %s: %w", id, ErrUnknownJob)
	})
	get(routeLog, func(r *http.Request) (any, error) {
		n, _ := strconv.Atoi(r.URL.Query().Get(paramLines))
		return m.Log(r.URL.Query().Get(paramID), n), nil
	})
	get(routeWait, func(r *http.Request) (any, error) {
		since, _ := strconv.ParseUint(r.URL.Query().Get(paramSince), 10, 64)
		ctx, cancel := context.WithTimeout(r.Context(), longPoll)
		defer cancel()
		return waitReply{Version: m.hub.wait(ctx, since)}, nil
	})
	post(routeCheckLocation, func(ctx context.Context, q request) (any, error) { return m.CheckLocation(ctx, q.Choices) })
	post(routeEstimate, func(ctx context.Context, q request) (any, error) { return m.Estimate(ctx, q.Choices) })
	post(routeCertificates, func(ctx context.Context, q request) (any, error) { return m.Certificates(ctx, q.Choices) })
	post(routePreflight, func(ctx context.Context, q request) (any, error) { return m.Preflight(ctx, q.Choices) })
	post(routeStart, func(ctx context.Context, q request) (any, error) {
		id, err := m.Start(ctx, q.Choices, callerActor(ctx, q.Who))
		return startReply{ID: id}, err
	})
	post(routeActions, func(ctx context.Context, q request) (any, error) {
		return m.Actions(q.ID, callerActor(ctx, q.Who)), nil
	})
	post(routeAct, func(ctx context.Context, q request) (any, error) {
		return map[string]bool{"ok": true}, m.Act(ctx, q.ID, q.Action, callerActor(ctx, q.Who))
	})
	return mux
}

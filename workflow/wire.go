package workflow

import (
	"errors"
	"net/http"
	"net/url"
)

// What crosses the control socket, defined once: the server (control.go)
// registers these routes and writes these shapes, the client (client.go)
// calls the same routes and reads the same shapes, so the two sides
// cannot drift apart.

// route is one endpoint of the control socket.
type route struct{ method, path string }

// The control socket's routes. GET routes answer a query (see the param
// names below); POST routes read a request body.
var (
	routePing          = route{http.MethodGet, "/v1/ping"}
	routePlans         = route{http.MethodGet, "/v1/plans"}
	routeSites         = route{http.MethodGet, "/v1/sites"}
	routeJobs          = route{http.MethodGet, "/v1/jobs"}
	routeJob           = route{http.MethodGet, "/v1/job"}  // paramID
	routeLog           = route{http.MethodGet, "/v1/log"}  // paramID, paramLines
	routeWait          = route{http.MethodGet, "/v1/wait"} // paramSince
	routeCheckLocation = route{http.MethodPost, "/v1/check-location"}
	routeEstimate      = route{http.MethodPost, "/v1/estimate"}
	routeCertificates  = route{http.MethodPost, "/v1/certificates"}
	routePreflight     = route{http.MethodPost, "/v1/preflight"}
	routeStart         = route{http.MethodPost, "/v1/start"}
	routeActions       = route{http.MethodPost, "/v1/actions"}
	routeAct           = route{http.MethodPost, "/v1/act"}
)

// Query parameters of the GET routes.
const (
	paramID    = "id"    // a job's ID
	paramLines = "n"     // how many log lines, 0 for all
	paramSince = "since" // the hub version the caller has seen
)

// pattern is the route as http.ServeMux registers it.
func (r route) pattern() string { return r.method + " " + r.path }

// url is the route's request path with query q (nil for none).
func (r route) url(q url.Values) string {
	if len(q) == 0 {
		return r.path
	}
	return r.path + "?" + q.Encode()
}

// request is the body of the POST routes.
type request struct {
	Choices Choices `json:"choices"`
	Who     Actor   `json:"who"`
	ID      string  `json:"id"`
	Action  Action  `json:"action"`
}

// startReply is routeStart's answer.
type startReply struct {
	ID string `json:"id"`
}

// waitReply is routeWait's answer: the hub's version after a change, or
// the same version when the long poll ran out.
type waitReply struct {
	Version uint64 `json:"version"`
}

// wireError is an error as it crosses the socket.
type wireError struct {
	Error  string           `json:"error"`
	Kind   string           `json:"kind,omitempty"`
	Report *PreflightReport `json:"report,omitempty"`
}

// wireKinds are the errors whose kind crosses the socket, in the order the
// server tests them: it sends the name with the status, and the client
// wraps the message around the same error again so that errors.Is works
// as with a Manager.
var wireKinds = []struct {
	name   string
	err    error
	status int
}{
	{"not_allowed", ErrNotAllowed, http.StatusForbidden},
	{"unknown_job", ErrUnknownJob, http.StatusNotFound},
	{"refused", ErrRefused, http.StatusConflict},
	{"preflight", ErrPreflight, http.StatusConflict},
}

// errorKind is the wire name and HTTP status of err.
func errorKind(err error) (string, int) {
	for _, k := range wireKinds {
		if errors.Is(err, k.err) {
			return k.name, k.status
		}
	}
	return "", http.StatusInternalServerError
}

// remoteError rebuilds an error so errors.Is works as with a Manager.
func remoteError(we wireError) error {
	for _, k := range wireKinds {
		if we.Kind != k.name {
			continue
		}
		if k.err == ErrPreflight && we.Report != nil {
			return &PreflightError{Report: *we.Report}
		}
		return &remote{msg: we.Error, kind: k.err}
	}
	return errors.New(we.Error)
}

// remote is an error from the other side of the socket, of a known kind.
type remote struct {
	msg  string
	kind error
}

func (e *remote) Error() string { return e.msg }
func (e *remote) Unwrap() error { return e.kind }

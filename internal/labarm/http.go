package labarm

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// API versions the SDK clients send (arm-notes.md §0): armcompute v6.4.0
// for VMs and for disks and snapshots, armnetwork v7.2.0 for NICs and
// public IPs. Another version is refused, so an SDK upgrade that changes
// them fails loudly here instead of drifting unseen.
const (
	apiCompute = "2024-11-01"
	apiDisks   = "2024-03-02"
	apiNetwork = "2025-01-01"
)

// apiError is an ARM error answer.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// internal wraps an error of the lab itself (state folder, Azurite).
func internal(err error) *apiError {
	return errf(500, "InternalServerError", "The lab ARM server failed: %v", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("x-ms-error-code", e.code)
	writeJSON(w, e.status, errorBody(e))
}

func errorBody(e *apiError) map[string]any {
	return map[string]any{"error": map[string]string{"code": e.code, "message": e.message}}
}

// route is a request path taken apart:
// /subscriptions/S/resourceGroups/G/providers/NS/TYPE[/NAME[/ACTION]] or
// /subscriptions/S/providers/NS/locations/L/{operations|operationResults}/ID.
type route struct {
	sub, rg, ns, typ, name, action string
	loc, opKind, opID              string
}

func parseRoute(p string) (route, bool) {
	seg := strings.Split(strings.Trim(p, "/"), "/")
	var r route
	if len(seg) < 4 || !strings.EqualFold(seg[0], "subscriptions") {
		return r, false
	}
	r.sub = seg[1]
	if strings.EqualFold(seg[2], "providers") && len(seg) == 8 && strings.EqualFold(seg[4], "locations") {
		r.ns, r.loc, r.opKind, r.opID = seg[3], seg[5], seg[6], seg[7]
		return r, true
	}
	if len(seg) < 7 || !strings.EqualFold(seg[2], "resourceGroups") || !strings.EqualFold(seg[4], "providers") || len(seg) > 9 {
		return r, false
	}
	r.rg, r.ns, r.typ = seg[3], seg[5], seg[6]
	if len(seg) > 7 {
		r.name = seg[7]
	}
	if len(seg) > 8 {
		r.action = seg[8]
	}
	return r, true
}

// kind names the resource type a route addresses, with its api-version.
func (r route) kind() (kind, api string) {
	switch strings.ToLower(r.ns + "/" + r.typ) {
	case "microsoft.compute/virtualmachines":
		return kindVM, apiCompute
	case "microsoft.compute/disks":
		return kindDisk, apiDisks
	case "microsoft.compute/snapshots":
		return kindSnap, apiDisks
	case "microsoft.network/networkinterfaces":
		return kindNIC, apiNetwork
	case "microsoft.network/publicipaddresses":
		return kindPIP, apiNetwork
	}
	return "", ""
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	w = rec
	w.Header().Set("x-ms-request-id", newGUID())
	defer func() {
		if s.o.Log != nil {
			fmt.Fprintf(s.o.Log, "%s %s %s %d %v\n", start.Format(time.RFC3339), r.Method, r.URL.RequestURI(), rec.status, time.Since(start).Round(time.Millisecond))
		}
	}()
	if e := s.dispatch(w, r); e != nil {
		writeError(w, e)
	}
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return errf(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	if tok, ok := strings.CutPrefix(auth, "Bearer "); !ok || strings.TrimSpace(tok) == "" {
		return errf(401, "AuthenticationFailedInvalidHeader", "Authentication failed. The 'Authorization' header is provided in an invalid format.")
	}
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		return errf(404, "NotFound", "No ARM route for %s %s in the lab.", r.Method, r.URL.Path)
	}
	if !strings.EqualFold(rt.sub, s.o.SubscriptionID) {
		return errf(404, "SubscriptionNotFound", "The subscription '%s' could not be found; the lab serves subscription %s.", rt.sub, s.o.SubscriptionID)
	}
	v := r.URL.Query().Get("api-version")
	if v == "" {
		return errf(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	if rt.opID != "" {
		return s.serveOperation(w, r, rt)
	}
	kind, api := rt.kind()
	if kind == "" {
		return errf(400, "InvalidResourceType", "The resource type '%s' could not be found in the namespace '%s' of the lab.", rt.typ, rt.ns)
	}
	if v != api {
		return errf(400, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The lab serves %s/%s at api-version '%s', the version the SDK failback uses sends; update internal/labarm when the SDK changes.", v, rt.ns, rt.typ, api)
	}
	if e := checkNames(rt.rg, rt.name); e != nil {
		return e
	}
	switch kind {
	case kindVM:
		return s.serveVM(w, r, rt)
	case kindDisk:
		return s.serveDisk(w, r, rt)
	case kindSnap:
		return s.serveSnapshot(w, r, rt)
	default:
		return s.serveNetwork(w, r, rt, kind)
	}
}

// notFound is ARM's answer for a resource that does not exist.
func notFound(rt route) *apiError {
	return errf(404, "ResourceNotFound", "The Resource '%s/%s/%s' under resource group '%s' was not found.", rt.ns, rt.typ, rt.name, rt.rg)
}

func methodNotAllowed(r *http.Request, rt route) *apiError {
	what := rt.typ
	if rt.action != "" {
		what += "/" + rt.action
	}
	return errf(405, "MethodNotAllowed", "The lab does not serve %s on %s.", r.Method, what)
}

// readBody decodes a JSON request body into v.
func readBody(r *http.Request, v any) *apiError {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errf(400, "InvalidRequestContent", "The request content could not be read: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errf(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %v", err)
	}
	return nil
}

// page answers a list: at most PageSize items, then a nextLink to the
// same URL with $skiptoken.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []any) *apiError {
	skip := 0
	if t := r.URL.Query().Get("$skiptoken"); t != "" {
		if _, err := fmt.Sscan(t, &skip); err != nil || skip < 0 {
			return errf(400, "InvalidSkipToken", "The $skiptoken %q is not one the lab gave.", t)
		}
	}
	skip = min(skip, len(items))
	end := min(skip+s.o.PageSize, len(items))
	body := map[string]any{"value": append([]any{}, items[skip:end]...)}
	if end < len(items) {
		q := r.URL.Query()
		q.Set("$skiptoken", fmt.Sprint(end))
		body["nextLink"] = baseURL(r) + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, 200, body)
	return nil
}

// baseURL is the scheme and host the client reached the server at.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// armTime is the time format of the spec examples.
func armTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000+00:00") }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

package labarm

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// operation is a long-running operation: its status answers the
// Azure-AsyncOperation URL, its result the Location URL.
type operation struct {
	id, ns, api string
	start       time.Time

	mu     sync.Mutex
	end    time.Time
	status string // InProgress, Succeeded, Failed
	err    *apiError
	result any // the final body at the Location URL (nil: none)
}

func (op *operation) finish(result any, e *apiError) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.end = time.Now().UTC()
	op.result, op.err = result, e
	op.status = "Succeeded"
	if e != nil {
		op.status = "Failed"
	}
}

// work is the part of an operation that runs after the 202: it returns
// the final result (nil for none) or the error the operation fails with.
type work func(ctx context.Context) (any, *apiError)

// accept starts an operation and answers the request that began it with
// code (202, or 200 for a PATCH), body (nil for none) and the headers ARM
// sends: Azure-AsyncOperation, Location and Retry-After. loc is the
// resource's location.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, rt route, loc string, code int, body any, run work) {
	_, api := rt.kind()
	op := &operation{id: newGUID(), ns: rt.ns, api: api, start: time.Now().UTC(), status: "InProgress"}
	s.opsMu.Lock()
	for id, o := range s.ops {
		if time.Since(o.start) > time.Hour {
			delete(s.ops, id)
		}
	}
	s.ops[op.id] = op
	s.opsMu.Unlock()
	if run == nil {
		op.finish(nil, nil)
	} else {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				if p := recover(); p != nil {
					op.finish(nil, internal(fmt.Errorf("panic: %v", p)))
				}
			}()
			op.finish(run(s.ctx))
		}()
	}
	status, result := s.opURLs(r, rt.ns, loc, op)
	h := w.Header()
	h.Set("Azure-AsyncOperation", status)
	h.Set("Location", result)
	s.retryAfter(h)
	writeJSON(w, code, body)
}

// opURLs are an operation's status and result URLs, as Compute and
// Network give them (arm-notes.md §1.5, §6).
func (s *Server) opURLs(r *http.Request, ns, loc string, op *operation) (status, result string) {
	loc = strings.ToLower(strings.ReplaceAll(loc, " ", ""))
	if loc == "" {
		loc = "lab"
	}
	base := fmt.Sprintf("%s/subscriptions/%s/providers/%s/locations/%s/", baseURL(r), s.o.SubscriptionID, ns, loc)
	status = base + "operations/" + op.id + "?api-version=" + op.api
	if strings.EqualFold(ns, "Microsoft.Network") {
		return status, base + "operationResults/" + op.id + "?api-version=" + op.api
	}
	return status, status + "&monitor=true"
}

// retryAfter asks the poller to wait PollDelay: Retry-After in whole
// seconds (what Azure sends) and, below a second, retry-after-ms, which
// azcore prefers.
func (s *Server) retryAfter(h http.Header) {
	d := s.o.PollDelay
	h.Set("Retry-After", fmt.Sprint(max(1, int((d+time.Second-1)/time.Second))))
	if d < time.Second {
		h.Set("retry-after-ms", fmt.Sprint(max(1, d.Milliseconds())))
	}
}

// serveOperation answers an operation's status or result URL.
func (s *Server) serveOperation(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if r.Method != http.MethodGet {
		return errf(405, "MethodNotAllowed", "Operations are read with GET.")
	}
	s.opsMu.Lock()
	op := s.ops[rt.opID]
	s.opsMu.Unlock()
	if op == nil {
		return errf(404, "NotFound", "Operation %s is not known: it ended over an hour ago, or the lab ARM server restarted while it ran; check the resource and retry the operation.", rt.opID)
	}
	op.mu.Lock()
	status, end, e, result := op.status, op.end, op.err, op.result
	op.mu.Unlock()
	resultURL := strings.EqualFold(rt.opKind, "operationResults") || r.URL.Query().Get("monitor") == "true"
	if resultURL {
		switch status {
		case "InProgress":
			_, loc := s.opURLs(r, op.ns, rt.loc, op)
			w.Header().Set("Location", loc)
			s.retryAfter(w.Header())
			w.WriteHeader(http.StatusAccepted)
			return nil
		case "Failed":
			return e
		}
		if result == nil {
			w.WriteHeader(http.StatusOK)
			return nil
		}
		writeJSON(w, 200, result)
		return nil
	}
	body := map[string]any{"name": op.id, "status": status, "startTime": armTime(op.start)}
	if status == "InProgress" {
		s.retryAfter(w.Header())
	} else {
		body["endTime"] = armTime(end)
	}
	if e != nil {
		body["error"] = map[string]string{"code": e.code, "message": e.message}
	}
	writeJSON(w, 200, body)
	return nil
}

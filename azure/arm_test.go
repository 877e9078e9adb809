package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// fakeARM speaks the few ARM endpoints ARMCompute uses, the way ARM does:
// instance view, power off / start / delete answered 202 with an
// Azure-AsyncOperation or Location header to poll, operations that take a
// few polls, and throttling (429 + Retry-After). No ARM emulator exists;
// this is the only fake server in the project.
type fakeARM struct {
	t   *testing.T
	url string

	mu       sync.Mutex
	vms      map[string]string // name -> power state
	ops      map[string]*fakeOp
	nextOp   int
	hits     map[string]int // route -> requests
	throttle map[string]int // route -> 429 answers still to give
	failOp   map[string]string
	stuck    map[string]bool
}

type fakeOp struct {
	vm, kind  string
	pollsLeft int
	fail      string
	done      bool
}

const (
	fakeSub = "00000000-0000-0000-0000-000000000001"
	fakeRG  = "rg-failback"
)

func newFakeARM(t *testing.T) (*fakeARM, *httptest.Server) {
	f := &fakeARM{t: t, vms: map[string]string{}, ops: map[string]*fakeOp{}, hits: map[string]int{},
		throttle: map[string]int{}, failOp: map[string]string{}, stuck: map[string]bool{}}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f, srv
}

func (f *fakeARM) hit(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[route]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("x-ms-error-code", code)
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *fakeARM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer fake-token" {
		armError(w, 401, "InvalidAuthenticationToken", "no token")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, 400, "MissingApiVersionParameter", "api-version missing")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	vmPrefix := "/subscriptions/" + fakeSub + "/resourceGroups/" + fakeRG + "/providers/Microsoft.Compute/virtualMachines/"
	opPrefix := "/subscriptions/" + fakeSub + "/providers/Microsoft.Compute/locations/westeurope/"
	p := r.URL.Path
	var route, vm, action string
	switch {
	case strings.HasPrefix(p, vmPrefix):
		parts := strings.Split(strings.TrimPrefix(p, vmPrefix), "/")
		vm = parts[0]
		if len(parts) > 1 {
			action = parts[1]
		}
		route = r.Method + " " + action
	case strings.HasPrefix(p, opPrefix):
		parts := strings.Split(strings.TrimPrefix(p, opPrefix), "/")
		route, action = "GET "+parts[0], parts[1]
	default:
		armError(w, 404, "NotFound", "no route "+p)
		return
	}
	f.hits[route]++
	if f.throttle[route] > 0 {
		f.throttle[route]--
		w.Header().Set("Retry-After", "1")
		armError(w, 429, "TooManyRequests", "throttled")
		return
	}
	switch route {
	case "GET instanceView":
		st, ok := f.vms[vm]
		if !ok {
			armError(w, 404, "ResourceNotFound", "The Resource 'Microsoft.Compute/virtualMachines/"+vm+"' was not found.")
			return
		}
		writeJSON(w, 200, map[string]any{"statuses": []map[string]string{
			{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/" + st},
		}})
	case "POST powerOff", "POST start", "DELETE ":
		if _, ok := f.vms[vm]; !ok {
			armError(w, 404, "ResourceNotFound", "VM "+vm+" not found")
			return
		}
		f.nextOp++
		id := fmt.Sprintf("op-%d", f.nextOp)
		op := &fakeOp{vm: vm, kind: route, pollsLeft: 2, fail: f.failOp[vm]}
		if f.stuck[vm] {
			op.pollsLeft = 1 << 30
		}
		f.ops[id] = op
		switch route {
		case "POST powerOff":
			f.vms[vm] = "stopping"
			w.Header().Set("Azure-AsyncOperation", f.url+opPrefix+"operations/"+id+"?api-version=2024-11-01")
			w.Header().Set("Location", f.url+opPrefix+"operationResults/"+id+"?api-version=2024-11-01")
		case "POST start":
			f.vms[vm] = "starting"
			w.Header().Set("Location", f.url+opPrefix+"operationResults/"+id+"?api-version=2024-11-01")
		default:
			w.Header().Set("Azure-AsyncOperation", f.url+opPrefix+"operations/"+id+"?api-version=2024-11-01")
		}
		w.WriteHeader(http.StatusAccepted)
	case "GET operations", "GET operationResults":
		op, ok := f.ops[action]
		if !ok {
			armError(w, 404, "NotFound", "no operation "+action)
			return
		}
		if !op.done && op.pollsLeft > 0 {
			op.pollsLeft--
			if route == "GET operations" {
				writeJSON(w, 200, map[string]string{"status": "InProgress"})
			} else {
				w.Header().Set("Location", f.url+r.URL.RequestURI())
				w.WriteHeader(http.StatusAccepted)
			}
			return
		}
		if op.fail != "" {
			writeJSON(w, 200, map[string]any{"status": "Failed", "error": map[string]string{"code": "OperationNotAllowed", "message": op.fail}})
			return
		}
		if !op.done {
			op.done = true
			switch op.kind {
			case "POST powerOff":
				f.vms[op.vm] = "stopped"
			case "POST start":
				f.vms[op.vm] = "running"
			default:
				delete(f.vms, op.vm)
			}
		}
		if route == "GET operations" {
			writeJSON(w, 200, map[string]string{"status": "Succeeded"})
		} else {
			w.WriteHeader(http.StatusOK)
		}
	default:
		armError(w, 405, "MethodNotAllowed", route)
	}
}

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func newTestARM(t *testing.T, f *fakeARM, srv *httptest.Server, timeout time.Duration) *ARMCompute {
	a, err := NewARMCompute(ARMOptions{
		SubscriptionID: fakeSub, ResourceGroup: fakeRG, Credential: staticToken{},
		Endpoint: srv.URL, Transport: srv.Client(),
		PollInterval: 5 * time.Millisecond, RetryDelay: 5 * time.Millisecond, OperationTimeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestARMComputePowerCycleWithPollingAndThrottling(t *testing.T) {
	ctx := context.Background()
	f, srv := newFakeARM(t)
	f.vms["vm1"] = "running"
	f.throttle["GET instanceView"] = 1
	a := newTestARM(t, f, srv, time.Minute)

	st, err := a.State(ctx, VMRef{Name: "vm1"})
	if err != nil || st != PowerRunning {
		t.Fatalf("State = %v, %v", st, err)
	}
	if n := f.hit("GET instanceView"); n != 2 {
		t.Errorf("instance view requests %d, want 2 (one throttled with 429, then retried)", n)
	}

	if err := a.PowerOff(ctx, VMRef{Name: "vm1"}, PowerOffOptions{}); err != nil {
		t.Fatal(err)
	}
	if f.hit("GET operations") < 3 {
		t.Errorf("async operation polled %d times, want >= 3 (two in progress, one done)", f.hit("GET operations"))
	}
	if st, err := a.State(ctx, VMRef{Name: "vm1"}); err != nil || st != PowerStopped || !st.Off() {
		t.Fatalf("after PowerOff: %v, %v", st, err)
	}

	if err := a.Start(ctx, VMRef{Name: "vm1"}); err != nil {
		t.Fatal(err)
	}
	if f.hit("GET operationResults") < 3 {
		t.Errorf("Location polled %d times, want >= 3", f.hit("GET operationResults"))
	}
	if st, _ := a.State(ctx, VMRef{Name: "vm1"}); st != PowerRunning {
		t.Fatalf("after Start: %v", st)
	}

	if err := a.Delete(ctx, VMRef{Name: "vm1"}, DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.State(ctx, VMRef{Name: "vm1"}); !errors.Is(err, ErrVMNotFound) {
		t.Fatalf("State of a deleted VM = %v, want ErrVMNotFound", err)
	}
	if err := a.Delete(ctx, VMRef{Name: "vm1"}, DeleteOptions{}); err != nil {
		t.Errorf("deleting a deleted VM: %v", err)
	}
}

func TestARMComputeReportsFailedAndStuckOperations(t *testing.T) {
	ctx := context.Background()
	f, srv := newFakeARM(t)
	f.vms["locked"] = "running"
	f.failOp["locked"] = "The VM is locked by a scope lock."
	f.vms["slow"] = "running"
	f.stuck["slow"] = true
	a := newTestARM(t, f, srv, 300*time.Millisecond)

	err := a.PowerOff(ctx, VMRef{Name: "locked"}, PowerOffOptions{})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "The VM is locked") || strings.Contains(err.Error(), "\n") {
		t.Errorf("failed operation: %q, want the ARM message on one line", err)
	}
	err = a.PowerOff(ctx, VMRef{Name: "slow"}, PowerOffOptions{})
	t.Log(err)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no result within") {
		t.Errorf("stuck operation: %v", err)
	}
	if _, err := a.State(ctx, VMRef{Name: "nosuchvm"}); !errors.Is(err, ErrVMNotFound) {
		t.Errorf("missing VM: %v", err)
	}
	bad, err := NewARMCompute(ARMOptions{SubscriptionID: fakeSub, ResourceGroup: fakeRG, Credential: wrongToken{},
		Endpoint: srv.URL, Transport: srv.Client(), RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.State(ctx, VMRef{Name: "locked"}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("refused token: %v", err)
	}
}

type wrongToken struct{}

func (wrongToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "wrong", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestParsePowerState(t *testing.T) {
	for in, want := range map[string]PowerState{
		"PowerState/running": PowerRunning, "PowerState/deallocated": PowerDeallocated, "powerstate/stopped": PowerStopped,
		"PowerState/deallocating": PowerDeallocating, "stopping": PowerStopping, "PowerState/weird": PowerUnknown,
	} {
		if got := ParsePowerState(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}

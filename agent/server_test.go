package agent

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/engine"
)

// The agent only reads: a whole delta sync through it, with blocks to
// transfer, sends storage nothing but GET and HEAD requests, and creates
// no snapshot.
func TestAgentNeverWritesToStorage(t *testing.T) {
	p := newPhase1(t, 8*mib, 64<<10, []int64{3, 70, 127})
	rec := newMethodRecorder()
	a := startAgent(t, newStorage(t, rec), ServerOptions{}, nil)
	ctx := context.Background()
	before, err := p.disk.d.ListSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(ctx, a.options(p.disk, p.snap))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := engine.Sync(ctx, src, p.onPrem, engine.Options{BlockSize: 64 << 10, NoJournal: true, Verify: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.onPrem.Bytes(), p.azure) {
		t.Fatal("target differs from the snapshot")
	}
	m := rec.counts()
	for method := range m {
		if method != http.MethodGet && method != http.MethodHead {
			t.Errorf("the agent sent storage a %s request: %v", method, m)
		}
	}
	if m[http.MethodGet] == 0 {
		t.Fatal("no storage request recorded: the test proves nothing")
	}
	after, err := p.disk.d.ListSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("snapshots before %d, after %d: the agent made one", len(before), len(after))
	}
}

// Requests the agent cannot or must not serve get a status that says
// why, and the client turns a missing snapshot into a permanent error.
func TestAgentRefusesBadRequests(t *testing.T) {
	st := newStorage(t, nil)
	d := newDisk(t, st, 4*mib)
	snap := d.snapshot(t)
	a := startAgent(t, newStorage(t, nil), ServerOptions{Containers: []string{d.container, "other"}}, nil)
	ok := snapRef{d.container, d.name, snap}.query().Encode()
	auth := "Bearer " + testToken
	for _, c := range []struct {
		name, path string
		want       int
	}{
		{"live blob", pathSums + "?c=" + d.container + "&b=vm.vhd&bs=65536&blocks=0:1", http.StatusBadRequest},
		{"block size", pathSums + "?" + ok + "&bs=1000&blocks=0:1", http.StatusBadRequest},
		{"past the end", pathSums + "?" + ok + "&bs=1048576&blocks=3:2", http.StatusBadRequest},
		{"too many blocks", pathSums + "?" + ok + "&bs=4096&blocks=0:1024,0:1024,0:1024,0:1024,0:1", http.StatusBadRequest},
		{"read too long", pathBlocks + "?" + ok + "&off=0&len=67108865&frame=1048576", http.StatusBadRequest},
		{"frame too big", pathBlocks + "?" + ok + "&off=0&len=4096&frame=8388608", http.StatusBadRequest},
		{"read past end", pathBlocks + "?" + ok + "&off=4193280&len=4096&frame=4096", http.StatusRequestedRangeNotSatisfiable},
		{"no such snapshot", pathSnapshot + "?" + snapRef{d.container, d.name, "2020-01-01T00:00:00.0000000Z"}.query().Encode(), http.StatusNotFound},
		{"container not served", pathSnapshot + "?" + snapRef{"elsewhere", d.name, snap}.query().Encode(), http.StatusForbidden},
		{"wrong method", pathInfo, http.StatusMethodNotAllowed},
	} {
		var code int
		var body string
		if c.want == http.StatusMethodNotAllowed {
			code, body = rawDo(t, a, http.MethodPost, c.path, auth)
		} else {
			code, body = rawGet(t, a, c.path, auth)
		}
		if code != c.want {
			t.Errorf("%s: HTTP %d (%q), want %d", c.name, code, body, c.want)
		}
	}
	o := a.options(d, "2020-01-01T00:00:00.0000000Z")
	o.Fallback = d.direct(t, st, snap)
	if _, err := NewSource(context.Background(), o); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing snapshot: %v, want ErrNotFound", err)
	}
}

// The agent limits requests in flight: past MaxRequests it answers 503
// with Retry-After, and the client waits and retries until it is served.
func TestAgentBusyAnswersAreRetried(t *testing.T) {
	st := newStorage(t, nil)
	d := newDisk(t, st, 4*mib)
	data := randomBytes(5, 4*mib)
	d.put(t, data, 0)
	snap := d.snapshot(t)
	rec := newMethodRecorder()
	a := startAgent(t, newStorage(t, rec), ServerOptions{MaxRequests: 1}, nil)
	ctx := context.Background()
	src1, err := NewSource(ctx, a.options(d, snap))
	if err != nil {
		t.Fatal(err)
	}
	defer src1.Close()
	src2, err := NewSource(ctx, a.options(d, snap))
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	hold := make(chan struct{})
	rec.mu.Lock()
	rec.hold = hold
	rec.mu.Unlock()
	p1, p2 := make([]byte, mib), make([]byte, mib)
	errs := make(chan error, 2)
	go func() { errs <- src1.ReadAt(ctx, p1, 0) }()
	waitUntil(t, "the first read to hold the only request slot", func() bool { return len(a.srv.reqs) == 1 })
	go func() { errs <- src2.ReadAt(ctx, p2, mib) }()
	waitUntil(t, "the second read to be refused as busy", func() bool { return a.srv.Stats().Busy > 0 })
	close(hold)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(p1, data[:mib]) || !bytes.Equal(p2, data[mib:2*mib]) {
		t.Fatal("reads differ from the snapshot")
	}
	if src2.Stats().Retries == 0 {
		t.Error("the refused read was not retried")
	}
}

// A frame whose bytes were damaged on the way fails its checksum; the
// client asks again and gets the right bytes.
func TestCorruptFrameIsDetectedAndRetried(t *testing.T) {
	st := newStorage(t, nil)
	d := newDisk(t, st, 4*mib)
	data := randomBytes(6, 4*mib)
	d.put(t, data, 0)
	snap := d.snapshot(t)
	var damaged atomic.Bool
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == pathBlocks && damaged.CompareAndSwap(false, true) {
				w = &flipByte{ResponseWriter: w, at: 1000}
			}
			h.ServeHTTP(w, r)
		})
	}
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, wrap)
	ctx := context.Background()
	src, err := NewSource(ctx, a.options(d, snap))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := make([]byte, 2*mib)
	if err := src.ReadAt(ctx, p, mib); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, data[mib:3*mib]) {
		t.Fatal("damaged frame got through")
	}
	if !damaged.Load() || src.Stats().Retries != 1 {
		t.Errorf("damaged %v, retries %d: want one damaged answer, retried once", damaged.Load(), src.Stats().Retries)
	}
}

// flipByte inverts the byte at offset at of an answer.
type flipByte struct {
	http.ResponseWriter
	at, n int
}

func (f *flipByte) Write(p []byte) (int, error) {
	if i := f.at - f.n; i >= 0 && i < len(p) {
		p = bytes.Clone(p)
		p[i] ^= 0xFF
	}
	f.n += len(p)
	return f.ResponseWriter.Write(p)
}

func (f *flipByte) Unwrap() http.ResponseWriter { return f.ResponseWriter }

func rawDo(t *testing.T, a *testAgent, method, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.url()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, ""
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

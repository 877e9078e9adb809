package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/testenv"
)

const mib = 1 << 20

// testToken is the deployment token of the test agents.
const testToken = "test-token-0123456789abcdef"

// storageOpts are fast-retrying options for the shared Azurite; tr, when
// set, sees every storage request.
func storageOpts(t testing.TB, tr policy.Transporter) azure.StorageOptions {
	return azure.StorageOptions{
		ConnectionString: azure.NewSecret(testenv.AzuriteConnectionString(t)),
		RetryDelay:       10 * time.Millisecond,
		MaxRetryDelay:    100 * time.Millisecond,
		TryTimeout:       30 * time.Second,
		Transport:        tr,
	}
}

func newStorage(t testing.TB, tr policy.Transporter) *azure.Storage {
	t.Helper()
	st, err := azure.NewStorage(storageOpts(t, tr))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newContainer makes a fresh container, removed when the test ends.
func newContainer(t testing.TB, st *azure.Storage) string {
	t.Helper()
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	name := "agent-" + hex.EncodeToString(rnd[:])
	if err := st.CreateContainer(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.DeleteContainer(context.Background(), name) })
	return name
}

// testDisk is a page-blob disk in Azurite and the plain SDK client that
// sets up its content without going through the code under test.
type testDisk struct {
	st        *azure.Storage
	d         *azure.Disk
	pb        *pageblob.Client
	container string
	name      string
	size      int64
}

func newDisk(t testing.TB, st *azure.Storage, size int64) *testDisk {
	t.Helper()
	c := newContainer(t, st)
	ctx := context.Background()
	d, err := st.CreateDisk(ctx, c, "vm.vhd", size, azure.CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := pageblob.NewClientFromConnectionString(testenv.AzuriteConnectionString(t), c, "vm.vhd", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testDisk{st: st, d: d, pb: pb, container: c, name: "vm.vhd", size: size}
}

// put writes p at off as pages (zeros included: they become allocated
// pages, as a guest that wrote zeros leaves them), 4 MiB per call, four
// calls at a time.
func (d *testDisk) put(t testing.TB, p []byte, off int64) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, 4)
	for o := int64(0); o < int64(len(p)); o += 4 * mib {
		chunk := p[o:min(o+4*mib, int64(len(p)))]
		wg.Add(1)
		sem <- struct{}{}
		go func(at int64, chunk []byte) {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := d.pb.UploadPages(context.Background(), streaming.NopCloser(bytes.NewReader(chunk)),
				blob.HTTPRange{Offset: at, Count: int64(len(chunk))}, nil)
			if err != nil {
				failed.Store(err)
			}
		}(off+o, chunk)
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("upload pages: %v", err)
	}
}

func (d *testDisk) snapshot(t testing.TB) string {
	t.Helper()
	s, err := d.d.CreateSnapshot(context.Background(), azure.SnapshotOptions{JobID: "test", Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// direct opens the snapshot for direct reads (the fallback).
func (d *testDisk) direct(t testing.TB, st *azure.Storage, snap string) *azure.SnapshotSource {
	t.Helper()
	dd, err := st.OpenDisk(context.Background(), d.container, d.name)
	if err != nil {
		t.Fatal(err)
	}
	src, err := dd.OpenSnapshot(context.Background(), snap)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// randomBytes is incompressible, repeatable test data.
func randomBytes(seed uint64, n int) []byte {
	p := make([]byte, n)
	r := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7})
	_, _ = r.Read(p)
	return p
}

// testAgent is an agent on a loopback port with a certificate made for
// the test. It can be killed (every connection cut) and restarted on the
// same address.
type testAgent struct {
	t           testing.TB
	srv         *Server
	cert        tls.Certificate
	certPEM     []byte
	fingerprint string
	addr        string
	logs        *syncBuffer
	wrap        func(http.Handler) http.Handler

	mu sync.Mutex
	hs *http.Server
}

// startAgent serves st on 127.0.0.1; wrap (may be nil) sits in front of
// the agent's handler, for tests that cut answers short.
func startAgent(t testing.TB, st *azure.Storage, o ServerOptions, wrap func(http.Handler) http.Handler) *testAgent {
	t.Helper()
	certPEM, keyPEM, err := GenerateCert(CertOptions{Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	o.Storage = st
	if o.Token.IsZero() {
		o.Token = azure.NewSecret(testToken)
	}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	a := &testAgent{t: t, srv: srv, cert: cert, certPEM: certPEM, fingerprint: Fingerprint(cert.Certificate[0]), logs: logs, wrap: wrap}
	a.listen("127.0.0.1:0")
	t.Cleanup(a.kill)
	return a
}

func (a *testAgent) listen(addr string) {
	a.t.Helper()
	if err := a.serve(addr); err != nil {
		a.t.Fatal(err)
	}
}

// serve listens on addr (retrying a moment: the old socket may linger
// after a kill) and serves there in the background.
func (a *testAgent) serve(addr string) error {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	h := a.srv.Handler()
	if a.wrap != nil {
		h = a.wrap(h)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	tl := tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{a.cert}})
	a.mu.Lock()
	a.addr = ln.Addr().String()
	a.hs = hs
	a.mu.Unlock()
	go func() { _ = hs.Serve(tl) }()
	return nil
}

// kill cuts the listener and every connection at once, as a crash does.
func (a *testAgent) kill() {
	a.mu.Lock()
	hs := a.hs
	a.hs = nil
	a.mu.Unlock()
	if hs != nil {
		_ = hs.Close()
	}
}

// restart serves again on the same address.
func (a *testAgent) restart() error { return a.serve(a.address()) }

func (a *testAgent) address() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

func (a *testAgent) url() string { return "https://" + a.address() }

// options are client options for this agent and a snapshot of d, with
// fast retries.
func (a *testAgent) options(d *testDisk, snap string) Options {
	return Options{
		URL: a.url(), CertFingerprint: a.fingerprint, Token: azure.NewSecret(testToken),
		Container: d.container, Blob: d.name, Snapshot: snap,
		RetryDelay: 20 * time.Millisecond, MaxRetryDelay: 200 * time.Millisecond, MaxRetries: 5,
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil)),
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// wireCounter is a dialer that counts every byte of the link at the TCP
// level, independently of the client's own counters.
type wireCounter struct{ in, out atomic.Int64 }

func (w *wireCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, in: &w.in, out: &w.out}, nil
}

func (w *wireCounter) total() int64 { return w.in.Load() + w.out.Load() }

// methodRecorder is a storage transport that records request methods, to
// prove the agent never writes.
type methodRecorder struct {
	c *http.Client

	mu      sync.Mutex
	methods map[string]int
	// hold, when set, blocks ranged blob reads until it is closed.
	hold chan struct{}
}

func newMethodRecorder() *methodRecorder {
	return &methodRecorder{c: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}, methods: map[string]int{}}
}

func (m *methodRecorder) Do(req *http.Request) (*http.Response, error) {
	m.mu.Lock()
	m.methods[req.Method]++
	hold := m.hold
	m.mu.Unlock()
	if hold != nil && req.Method == http.MethodGet && req.URL.Query().Get("comp") == "" && hasRange(req) {
		select {
		case <-hold:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return m.c.Do(req)
}

func hasRange(req *http.Request) bool {
	for k := range req.Header {
		if strings.EqualFold(k, "x-ms-range") || strings.EqualFold(k, "range") {
			return true
		}
	}
	return false
}

func (m *methodRecorder) counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.methods {
		out[k] = v
	}
	return out
}

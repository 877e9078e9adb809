package azure

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/internal/testenv"
)

// countingTransport counts what goes over the wire, so tests can prove
// that unallocated pages are never downloaded.
type countingTransport struct {
	c         *http.Client
	gets      atomic.Int64 // ranged GETs of blob data
	bodyBytes atomic.Int64 // Content-Length of those answers
	requests  atomic.Int64 // everything
	updates   atomic.Int64 // Put Page (update) calls
	clears    atomic.Int64 // Put Page (clear) calls
	maxUpdate atomic.Int64 // largest Put Page body
}

func (t *countingTransport) Do(req *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	if req.Method == http.MethodPut && req.URL.Query().Get("comp") == "page" {
		switch headerCI(req.Header, "x-ms-page-write") {
		case "update":
			t.updates.Add(1)
			for {
				m := t.maxUpdate.Load()
				if req.ContentLength <= m || t.maxUpdate.CompareAndSwap(m, req.ContentLength) {
					break
				}
			}
		case "clear":
			t.clears.Add(1)
		}
	}
	resp, err := t.c.Do(req)
	if err == nil && req.Method == http.MethodGet && req.URL.Query().Get("comp") == "" && req.URL.Query().Get("restype") == "" {
		t.gets.Add(1)
		if resp.ContentLength > 0 {
			t.bodyBytes.Add(resp.ContentLength)
		}
	}
	return resp, err
}

func (t *countingTransport) reset() {
	t.gets.Store(0)
	t.bodyBytes.Store(0)
	t.requests.Store(0)
	t.updates.Store(0)
	t.clears.Store(0)
	t.maxUpdate.Store(0)
}

// testOptions are fast-retrying options for the shared Azurite.
func testOptions(t testing.TB) StorageOptions {
	return StorageOptions{
		ConnectionString: NewSecret(testenv.AzuriteConnectionString(t)),
		RetryDelay:       10 * time.Millisecond,
		MaxRetryDelay:    100 * time.Millisecond,
		TryTimeout:       30 * time.Second,
	}
}

// newTestStorage connects to Azurite through a counting transport and
// makes a fresh container for the test, removed at the end.
func newTestStorage(t testing.TB) (*Storage, *countingTransport, string) {
	t.Helper()
	ct := &countingTransport{c: newHTTPClient(8)}
	o := testOptions(t)
	o.Transport = ct
	s, err := NewStorage(o)
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t.Name())
	ctx := context.Background()
	if err := s.CreateContainer(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteContainer(context.Background(), name) })
	return s, ct, name
}

// uniqueName is a valid container name (3-63 lower-case letters, digits,
// hyphens) derived from the test name.
func uniqueName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() >= 40 {
			break
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return "t" + b.String() + "-" + hex.EncodeToString(rnd[:])
}

// rawPageBlob gives tests the plain SDK client, to set up blobs without
// going through the code under test.
func rawPageBlob(s *Storage, container, name string) *pageblob.Client {
	return s.container(container).NewPageBlobClient(name)
}

func rawPut(t testing.TB, pb *pageblob.Client, off int64, p []byte) {
	t.Helper()
	_, err := pb.UploadPages(context.Background(), streaming.NopCloser(bytes.NewReader(p)),
		blob.HTTPRange{Offset: off, Count: int64(len(p))}, nil)
	if err != nil {
		t.Fatalf("raw put at %d (%d bytes): %v", off, len(p), err)
	}
}

// pattern is deterministic, non-zero test data that differs per offset.
func pattern(off int64, n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		x := uint64(off+int64(i)) * 0x9E3779B97F4A7C15
		p[i] = byte(x>>56) ^ seed | 1
	}
	return p
}

// headerCI reads a header whatever its spelling: azcore sets some with
// lower-case keys, which http.Header.Get does not find.
func headerCI(h http.Header, key string) string {
	for k, v := range h {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

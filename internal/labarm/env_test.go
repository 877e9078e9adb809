package labarm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/internal/testenv"
)

// env is a lab ARM server on loopback over the tests' Azurite and front.
type env struct {
	t     *testing.T
	srv   *Server
	url   string
	front string
	lc    *azure.LabCompute
	rg    string
}

func rnd() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newEnv starts a server; tune adjusts its options.
func newEnv(t *testing.T, tune func(*Options)) *env {
	t.Helper()
	port := testenv.AzuritePort(t)
	cs := testenv.AzuriteFront(t)
	_, front, _ := strings.Cut(cs, "BlobEndpoint=")
	front = strings.TrimSuffix(front, ";")
	lc, err := azure.NewLabCompute(t.TempDir(), azure.LabOptions{AckTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Dir: t.TempDir(), AzuriteURL: fmt.Sprintf("http://127.0.0.1:%d/%s", port, azurite.AccountName),
		BlobURL: front, Compute: lc, Container: "labarm-" + rnd()}
	if tune != nil {
		tune(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &env{t: t, srv: srv, url: url, front: front, lc: lc, rg: "rg-" + rnd()}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return c
}

// armOptions point an SDK client at the server, without retries (a
// refusal is seen as it is) and with RP registration off.
func (e *env) armOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: e.url, Audience: e.url}}},
		InsecureAllowCredentialWithHTTP: true,
		Retry:                           policy.RetryOptions{MaxRetries: -1},
	}, DisableRPRegistration: true}
}

// failbackARM is how failback reaches the server: azure.ARMOptions.
func (e *env) failbackARM() azure.ARMOptions {
	return azure.ARMOptions{SubscriptionID: e.srv.SubscriptionID(), ResourceGroup: e.rg, Credential: azure.LabToken{}, Endpoint: e.url,
		PollInterval: 10 * time.Millisecond, OperationTimeout: time.Minute, MaxRetries: 2, RetryDelay: 10 * time.Millisecond,
		MaxRetryDelay: 50 * time.Millisecond, TryTimeout: 30 * time.Second}
}

// managed is azure.ManagedDisks on the server, reading fast.
func (e *env) managed(tune func(*azure.ManagedOptions)) *azure.ManagedDisks {
	o := azure.ManagedOptions{ARM: e.failbackARM(), Read: azure.StorageOptions{MaxRetries: 2, RetryDelay: 10 * time.Millisecond,
		MaxRetryDelay: 50 * time.Millisecond, TryTimeout: 30 * time.Second}}
	if tune != nil {
		tune(&o)
	}
	m, err := azure.NewManagedDisks(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// pageBlob is the Azurite page blob of a lab disk, to write it as a guest
// would.
func (e *env) pageBlob(rg, disk string) *pageblob.Client {
	e.t.Helper()
	c, b, err := e.srv.DiskBlob(rg, disk)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.srv.blob(c, b)
}

func (e *env) write(rg, disk string, p []byte, off int64) {
	e.t.Helper()
	for o := 0; o < len(p); o += 4 << 20 {
		n := min(4<<20, len(p)-o)
		_, err := e.pageBlob(rg, disk).UploadPages(context.Background(), streaming.NopCloser(bytes.NewReader(p[o:o+n])),
			blob.HTTPRange{Offset: off + int64(o), Count: int64(n)}, nil)
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// do sends a raw request with a bearer token and returns status and body.
func (e *env) do(method, path string, body any) (int, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.url + path
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// path is the ARM path of a resource of the env's group.
func (e *env) path(provider, name, api string) string {
	return e.srv.resourceID(e.rg, provider, name) + "?api-version=" + api
}

// poll waits for an LRO begun by a raw request.
func poll[T any](t *testing.T, p *runtime.Poller[T], err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.PollUntilDone(ctx(t), &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func errCode(err error) (int, string) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode, re.ErrorCode
	}
	return 0, ""
}

type rawAnswer struct {
	status        int
	code, message string
}

// httpGet sends a GET without any Authorization header.
func httpGet(u string) (rawAnswer, error) {
	resp, err := http.Get(u)
	if err != nil {
		return rawAnswer{}, err
	}
	defer resp.Body.Close()
	var doc struct {
		Error struct{ Code, Message string }
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &doc)
	return rawAnswer{resp.StatusCode, doc.Error.Code, doc.Error.Message}, nil
}

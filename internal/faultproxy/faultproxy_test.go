package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/internal/testenv"
)

// client returns an azblob client that talks to Azurite through the proxy
// and never retries, so each fault is seen as it is.
func client(t *testing.T, p *Proxy) *azblob.Client {
	t.Helper()
	cs := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s/%s;",
		azurite.AccountName, azurite.AccountKey, p.URL, azurite.AccountName)
	c, err := azblob.NewClientFromConnectionString(cs, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: -1},
		// A fresh connection per request: net/http silently retries a GET
		// whose reused connection was reset, which would hide the fault.
		Transport: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEachScheduledFaultReachesTheClient(t *testing.T) {
	port := testenv.AzuritePort(t)
	p, err := Start(Options{
		Upstream: fmt.Sprintf("http://127.0.0.1:%d", port),
		Schedule: []Fault{Reset, Error500, Error503, CutShort, Slow, None},
		Match:    func(r *http.Request) bool { return r.Method == http.MethodGet },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	c := client(t, p)
	const cont = "faultproxy-sched"
	if _, err := c.CreateContainer(ctx, cont, nil); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = c.DeleteContainer(context.Background(), cont, nil) }()
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	if _, err := c.UploadBuffer(ctx, cont, "b", data, nil); err != nil {
		t.Fatal(err)
	}
	get := func() ([]byte, error) {
		resp, err := c.DownloadStream(ctx, cont, "b", &azblob.DownloadStreamOptions{Range: blob.HTTPRange{Count: int64(len(data))}})
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	status := func(err error) int {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			return re.StatusCode
		}
		return 0
	}

	if _, err := get(); err == nil || status(err) != 0 {
		t.Errorf("reset: %v, want a transport error", err)
	} else if !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "EOF") {
		t.Logf("reset surfaced as: %v", err)
	}
	if _, err := get(); status(err) != 500 {
		t.Errorf("500: %v", err)
	}
	if _, err := get(); status(err) != 503 {
		t.Errorf("503: %v", err)
	}
	if b, err := get(); !errors.Is(err, io.ErrUnexpectedEOF) || len(b) >= len(data) {
		t.Errorf("cut short: %d bytes, %v; want fewer bytes and unexpected EOF", len(b), err)
	}
	for i, name := range []string{"slow", "none"} {
		if b, err := get(); err != nil || !bytes.Equal(b, data) {
			t.Errorf("%d %s: %v", i, name, err)
		}
	}
	for f, want := range map[Fault]int64{Reset: 1, Error500: 1, Error503: 1, CutShort: 1, Slow: 1} {
		if p.Count(f) != want {
			t.Errorf("%v count %d, want %d", f, p.Count(f), want)
		}
	}
	if p.Faults() != 5 {
		t.Errorf("Faults() = %d", p.Faults())
	}
}

func TestSameSeedSameFaults(t *testing.T) {
	seq := func(seed uint64) []Fault {
		p := &Proxy{opts: Options{Reset: 0.1, Error500: 0.1, Error503: 0.1, Slow: 0.1, CutShort: 0.1}, rng: newRNG(seed)}
		p.enabled.Store(true)
		req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		out := make([]Fault, 200)
		for i := range out {
			out[i] = p.pick(req)
		}
		return out
	}
	a, b, c := seq(7), seq(7), seq(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed, different faults")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("different seeds, same faults")
	}
	kinds := map[Fault]int{}
	for _, f := range a {
		kinds[f]++
	}
	if len(kinds) != int(numFaults) {
		t.Errorf("200 draws at 10%% each did not produce every fault: %v", kinds)
	}
}

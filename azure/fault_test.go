package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/internal/faultproxy"
	"github.com/failback/failback/internal/testenv"
)

// viaProxy connects to Azurite through a fault-injecting proxy.
func viaProxy(t *testing.T, o faultproxy.Options) (*Storage, *faultproxy.Proxy) {
	t.Helper()
	o.Upstream = fmt.Sprintf("http://127.0.0.1:%d", testenv.AzuritePort(t))
	p, err := faultproxy.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	cs := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s/%s;",
		azurite.AccountName, azurite.AccountKey, p.URL, azurite.AccountName)
	s, err := NewStorage(StorageOptions{
		ConnectionString: NewSecret(cs),
		MaxRetries:       8,
		RetryDelay:       5 * time.Millisecond,
		MaxRetryDelay:    50 * time.Millisecond,
		TryTimeout:       20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func TestSnapshotCopyThroughFaultsGetsTheRightBytes(t *testing.T) {
	ctx := context.Background()
	direct, _, c := newTestStorage(t)
	const size = 16 * mib
	d, err := direct.CreateDisk(ctx, c, "vm.vhd", size, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	pb := rawPageBlob(direct, c, "vm.vhd")
	for i, off := range []int64{0, 3 * mib, 3*mib + 512<<10, 9 * mib, 15 * mib} {
		p := pattern(off, 768<<10, byte(i))
		rawPut(t, pb, off, p)
		copy(want[off:], p)
	}
	snap, err := d.CreateSnapshot(ctx, SnapshotOptions{Purpose: "fault-test"})
	if err != nil {
		t.Fatal(err)
	}

	s, proxy := viaProxy(t, faultproxy.Options{
		Seed:  42,
		Reset: 0.08, Error500: 0.08, Error503: 0.08, Slow: 0.05, CutShort: 0.15,
		SlowDelay: 20 * time.Millisecond,
		Match:     func(r *http.Request) bool { return r.Method == http.MethodGet },
	})
	pd, err := s.OpenDisk(ctx, c, "vm.vhd")
	if err != nil {
		t.Fatal(err)
	}
	src, err := pd.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, size)
	const block = 64 << 10
	var wg sync.WaitGroup
	errs := make(chan error, size/block)
	sem := make(chan struct{}, 8)
	for off := int64(0); off < size; off += block {
		wg.Add(1)
		sem <- struct{}{}
		go func(off int64) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := src.ReadAt(ctx, got[off:off+block], off); err != nil {
				errs <- err
			}
		}(off)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("copy through faults differs from the disk")
	}
	t.Logf("requests %d, faults: reset %d, 500 %d, 503 %d, slow %d, cut %d; source retries %d",
		proxy.Requests(), proxy.Count(faultproxy.Reset), proxy.Count(faultproxy.Error500), proxy.Count(faultproxy.Error503),
		proxy.Count(faultproxy.Slow), proxy.Count(faultproxy.CutShort), src.Stats().Retries.Load())
	if proxy.Count(faultproxy.CutShort) == 0 || proxy.Count(faultproxy.Reset)+proxy.Count(faultproxy.Error503) == 0 {
		t.Fatal("the proxy injected too few faults for the test to mean anything")
	}
	if src.Stats().Retries.Load() == 0 {
		t.Error("bodies were cut short but the source never resumed a read")
	}
}

func TestTargetWritesThroughFaults(t *testing.T) {
	ctx := context.Background()
	direct, _, c := newTestStorage(t)
	if _, err := direct.CreateDisk(ctx, c, "rev.vhd", 8*mib, CreateDiskOptions{}); err != nil {
		t.Fatal(err)
	}
	s, proxy := viaProxy(t, faultproxy.Options{
		Seed:  7,
		Reset: 0.15, Error500: 0.15, Error503: 0.15,
		Match: func(r *http.Request) bool { return r.Method == http.MethodPut },
	})
	d, err := s.OpenDisk(ctx, c, "rev.vhd")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(0, 8*mib, 3)
	for off := int64(0); off < 8*mib; off += 512 << 10 {
		if err := tg.WriteAt(ctx, want[off:off+512<<10], off); err != nil {
			t.Fatal(err)
		}
	}
	if proxy.Faults() == 0 {
		t.Fatal("no faults injected")
	}
	dd, err := direct.OpenDisk(ctx, c, "rev.vhd")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 8*mib)
	if err := downloadRange(ctx, dd.pb, dd.Name(), got, 0, direct.readPolicy(), nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("written content differs")
	}
}

func TestSourcePermanentErrorsAreNotRetried(t *testing.T) {
	ctx := context.Background()
	s, ct, c := newTestStorage(t)
	d, err := s.CreateDisk(ctx, c, "gone.vhd", 2*mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rawPut(t, rawPageBlob(s, c, "gone.vhd"), 0, pattern(0, 4096, 1))
	snap, err := d.CreateSnapshot(ctx, SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := d.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Allocated(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSnapshot(ctx, snap.ID); err != nil {
		t.Fatal(err)
	}
	ct.reset()
	err = src.ReadAt(ctx, make([]byte, 4096), 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("read of a deleted snapshot = %v, want ErrNotFound", err)
	}
	if n := ct.requests.Load(); n != 1 {
		t.Errorf("%d requests for a 404, want 1 (permanent errors are not retried)", n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := src.ReadAt(cctx, make([]byte, 4096), 0); !errors.Is(err, context.Canceled) {
		t.Errorf("read with a cancelled context = %v", err)
	}
}

package labarm

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/engine/enginetest"
	"github.com/failback/failback/internal/faultproxy"
)

// TestManagedSnapshotReadsWaitOutThrottling: a managed disk's snapshot
// read through its SAS grant, where the storage behind the grant refuses
// (429, Retry-After) what goes over 16 MiB/s: the engine's 8 readers
// finish without an error, the bytes are the disk's, and the disk's
// Throttling counts what the storage refused.
func TestManagedSnapshotReadsWaitOutThrottling(t *testing.T) {
	var proxy *faultproxy.Proxy
	e := newEnv(t, func(o *Options) {
		u, err := url.Parse(o.BlobURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy, err = faultproxy.Start(faultproxy.Options{Upstream: u.Scheme + "://" + u.Host,
			Throttle: faultproxy.Throttle{Rate: 16 << 20},
			Match:    func(r *http.Request) bool { return r.Method == http.MethodGet }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = proxy.Close() })
		o.BlobURL = proxy.URL + u.Path // grants name the proxy
	})
	c := ctx(t)
	const size = 16 << 20
	id, err := e.srv.CreateDisk(c, e.rg, "busy", size, "")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("throttle"), size/8)
	for i := range data {
		data[i] ^= byte(i >> 12)
	}
	e.write(e.rg, "busy", data, 0)
	snaps, _ := armcompute.NewSnapshotsClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	p, err := snaps.BeginCreateOrUpdate(c, e.rg, "snap", snapshotBody(id), nil)
	poll(t, p, err)

	d, err := e.managed(nil).OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := d.OpenSnapshot(c, "snap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(c)
	dst := enginetest.NewMemDisk(size, 0)
	if _, err := engine.Sync(c, src, dst, engine.Options{Mode: engine.Full, NoJournal: true, Threads: 8}); err != nil {
		t.Fatalf("a throttled snapshot read failed: %v", err)
	}
	got := make([]byte, size)
	if err := dst.ReadAt(c, got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the disk read through the throttled grant differs (%v)", err)
	}
	th := src.Throttling()
	t.Logf("%d reads refused; %+v", proxy.Throttled(), th)
	if proxy.Throttled() == 0 || th.Throttled != proxy.Throttled() {
		t.Fatalf("the storage refused %d reads; the disk's throttling says %+v", proxy.Throttled(), th)
	}
}

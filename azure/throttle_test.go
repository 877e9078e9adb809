package azure

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/engine/enginetest"
	"github.com/failback/failback/internal/faultproxy"
)

// TestReadsSettleUnderAThrottlingProxy: a proxy in front of Azurite
// refuses, with 429 and Retry-After, the reads that go over 16 MiB/s.
// The engine reads a 48 MiB snapshot through it with 8 readers: the
// second half of the transfer runs near the proxy's rate (the first
// half learns it), few reads are refused (the limits learn the rate
// instead of finding it again and again), none fails, the disk's
// Throttling says it was throttled, and the bytes are the snapshot's.
func TestReadsSettleUnderAThrottlingProxy(t *testing.T) {
	ctx := context.Background()
	direct, _, c := newTestStorage(t)
	const size = 48 * mib
	d, err := direct.CreateDisk(ctx, c, "vm.vhd", size, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(0, size, 5)
	pb := rawPageBlob(direct, c, "vm.vhd")
	for off := int64(0); off < size; off += 4 * mib {
		rawPut(t, pb, off, want[off:off+4*mib])
	}
	snap, err := d.CreateSnapshot(ctx, SnapshotOptions{Purpose: "throttle-test"})
	if err != nil {
		t.Fatal(err)
	}

	const rate = 16 * mib
	s, proxy := viaProxy(t, faultproxy.Options{
		Throttle: faultproxy.Throttle{Rate: rate, Burst: 500 * time.Millisecond},
		Match:    func(r *http.Request) bool { return r.Method == http.MethodGet },
	})
	pd, err := s.OpenDisk(ctx, c, "vm.vhd")
	if err != nil {
		t.Fatal(err)
	}
	src, err := pd.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	dst := enginetest.NewMemDisk(size, 0)
	start := time.Now()
	var half time.Time // when half the disk had been read
	st, err := engine.Sync(ctx, src, dst, engine.Options{Mode: engine.Full, NoJournal: true, Threads: 8,
		ProgressInterval: 50 * time.Millisecond, Progress: func(p engine.Progress) {
			if half.IsZero() && p.BytesReadSource >= size/2 {
				half = time.Now()
			}
		}})
	end := time.Now()
	if err != nil {
		t.Fatalf("a throttled transfer failed: %v", err)
	}
	got := make([]byte, size)
	if err := dst.ReadAt(ctx, got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the disk read through the throttling proxy differs from the snapshot (%v)", err)
	}
	reads := src.Stats().Requests.Load()
	th := src.Throttling()
	if st.BytesReadSource != size || half.IsZero() {
		t.Fatalf("read %d bytes of %d", st.BytesReadSource, size)
	}
	achieved := size / 2 / end.Sub(half).Seconds()
	t.Logf("%.1f MiB/s in the second half against a %d MiB/s throttle (all of it in %v): %d reads, %d refused; now %d in flight at most, cap %.1f MiB/s",
		achieved/mib, rate/mib, end.Sub(start).Round(time.Millisecond), reads, proxy.Throttled(), th.Parallel, th.RateCap/mib)
	if achieved > 1.2*rate {
		t.Errorf("%.1f MiB/s through a proxy that lets %d MiB/s through: the proxy does not throttle", achieved/mib, rate/mib)
	}
	// A loaded machine can only make the transfer slower, never the
	// proxy faster, and each refusal costs a whole second of Retry-After
	// (a sixth of the second half): the lower bound is generous. On an
	// idle machine the second half runs at 15-16 MiB/s with 2 refusals.
	if achieved < 0.45*rate {
		t.Errorf("settled at %.1f MiB/s, far under the %d MiB/s the proxy allows", achieved/mib, rate/mib)
	}
	if n := proxy.Throttled(); n == 0 || n > 8 {
		t.Errorf("%d reads refused over %d MiB: want a few (the rate learnt), not none (no throttling tested) or many", n, size/mib)
	}
	if th.Throttled != proxy.Throttled() || th.Last.IsZero() || th.RateCap <= 0 {
		t.Errorf("the disk's throttling says %+v; the proxy refused %d reads", th, proxy.Throttled())
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{http.Header{"Retry-After": {now.Add(2 * time.Second).Format(http.TimeFormat)}}, 2 * time.Second},
		{http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0},
		{http.Header{"X-Ms-Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond},
		{http.Header{"Retry-After-Ms": {"40"}}, 40 * time.Millisecond},
		{http.Header{}, 0},
	} {
		if got := retryAfter(c.h, now); got != c.want {
			t.Errorf("%v: %v, want %v", c.h, got, c.want)
		}
	}
}

func TestThrottleKeysAreTheBlobAndItsAccount(t *testing.T) {
	for _, c := range []struct{ u, blob, acct string }{
		{"https://acct.blob.core.windows.net/vhds/vm.vhd?snapshot=x&sig=y", "acct.blob.core.windows.net|/vhds/vm.vhd", "acct.blob.core.windows.net"},
		{"http://127.0.0.1:10000/devstoreaccount1/vhds/vm.vhd?sig=z", "127.0.0.1:10000/devstoreaccount1|/devstoreaccount1/vhds/vm.vhd", "127.0.0.1:10000/devstoreaccount1"},
	} {
		u, _ := url.Parse(c.u)
		if b, a := keys(u); b != c.blob || a != c.acct {
			t.Errorf("%s: %q %q", c.u, b, a)
		}
	}
}

// TestWritesThroughAThrottlingProxyLandWhole: reverse replication's
// writes (Put Page) over a 16 MiB/s throttle: every refused write is
// sent again whole (its body rewound), so the blob holds exactly what
// was written, and the disk's Throttling says it was throttled.
func TestWritesThroughAThrottlingProxyLandWhole(t *testing.T) {
	ctx := context.Background()
	direct, _, c := newTestStorage(t)
	const size = 4 * mib
	if _, err := direct.CreateDisk(ctx, c, "rr.vhd", size, CreateDiskOptions{}); err != nil {
		t.Fatal(err)
	}
	s, proxy := viaProxy(t, faultproxy.Options{
		Throttle: faultproxy.Throttle{Rate: 16 * mib, Burst: 100 * time.Millisecond},
		Match:    func(r *http.Request) bool { return r.Method == http.MethodPut },
	})
	d, err := s.OpenDisk(ctx, c, "rr.vhd")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(0, size, 11)
	src := enginetest.NewMemDisk(size, 0)
	if err := src.WriteAt(ctx, want, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Sync(ctx, src, dst, engine.Options{Mode: engine.Full, NoJournal: true, Threads: 8}); err != nil {
		t.Fatalf("throttled writes failed: %v", err)
	}
	got := make([]byte, size)
	if err := dst.ReadAt(ctx, got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the blob differs from what was written through the throttle (%v)", err)
	}
	th := dst.Throttling()
	t.Logf("%d writes refused; %+v", proxy.Throttled(), th)
	if proxy.Throttled() == 0 || th.Throttled != proxy.Throttled() {
		t.Fatalf("the proxy refused %d writes, the disk's throttling says %+v", proxy.Throttled(), th)
	}
}

func TestAnAccountShrinksOnlyWhenSeveralOfItsBlobsAreThrottled(t *testing.T) {
	th := newThrottles(time.Millisecond, time.Millisecond)
	u := func(s string) *url.URL { p, _ := url.Parse(s); return p }
	ka, a := th.entry(u("https://acct.blob.core.windows.net/vhds/a.vhd"))
	kb, b := th.entry(u("https://acct.blob.core.windows.net/vhds/b.vhd"))
	if a.acct != b.acct {
		t.Fatal("two blobs of one account have two account limits")
	}
	before := a.acct.lim.Stats().Limit
	now := time.Now()
	a.acct.noteThrottle(ka, now, 0)
	a.acct.noteThrottle(ka, now.Add(100*time.Millisecond), 0)
	if s := a.acct.lim.Stats(); s.Throttles != 0 || s.Limit != before {
		t.Fatalf("one blob's throttles shrank its account: %+v", s)
	}
	b.acct.noteThrottle(kb, now.Add(200*time.Millisecond), 2*time.Second)
	if s := a.acct.lim.Stats(); s.Throttles != 1 || s.Limit >= before || !s.PausedUntil.After(now) {
		t.Fatalf("two blobs throttled within a second left the account as it was: %+v", s)
	}
}

// Clients built from options naming the same Limits share the limits of
// each blob and account, whatever else their options say (a mover's
// calls); others have their own.
func TestOptionsNamingOneLimitsShareThem(t *testing.T) {
	l := NewLimits(time.Millisecond, time.Millisecond)
	a := StorageOptions{Limits: l, RetryDelay: time.Second}.withDefaults()
	b := StorageOptions{Limits: l, MaxRetries: 3}.withDefaults()
	if a.throttle != l.t || b.throttle != l.t {
		t.Fatal("options naming one Limits have their own limits")
	}
	if c := (StorageOptions{}).withDefaults(); c.throttle == nil || c.throttle == l.t {
		t.Fatal("options without Limits share someone else's")
	}
}

package faultproxy

import (
	"net/http"
	"testing"
	"time"
)

func TestThrottleRefusesOverTheRateWithRetryAfter(t *testing.T) {
	b := newBucket(Throttle{Rate: 1 << 20, Burst: time.Second}) // 1 MiB/s, 1 MiB of burst
	if ok, _ := b.admit(1 << 20); !ok {
		t.Fatal("the burst was refused")
	}
	if ok, _ := b.admit(3 << 20); !ok {
		t.Fatal("a request while the bucket is not in debt was refused")
	}
	ok, after := b.admit(1)
	if ok || after != 3 {
		t.Fatalf("in debt by about 3 MiB at 1 MiB/s: admitted %v, Retry-After %d, want refused, 3", ok, after)
	}
	if b.t.Status != http.StatusTooManyRequests || newBucket(Throttle{}) != nil {
		t.Fatal("defaults")
	}
}

func TestSizeCountsOnlyData(t *testing.T) {
	get := func(q, rng string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://x/c/b?"+q, nil)
		r.Header.Set("x-ms-range", rng)
		return r
	}
	if n := size(get("snapshot=s", "bytes=0-1048575")); n != 1<<20 {
		t.Errorf("ranged read: %d", n)
	}
	if n := size(get("comp=pagelist", "bytes=0-1048575")); n != 0 {
		t.Errorf("a range list counted as %d bytes", n)
	}
	put, _ := http.NewRequest(http.MethodPut, "http://x/c/b?comp=page", http.NoBody)
	put.ContentLength = 4096
	if n := size(put); n != 4096 {
		t.Errorf("put: %d", n)
	}
}

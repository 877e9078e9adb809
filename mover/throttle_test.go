package mover

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/failback/failback/azure"
)

// The throttling a mover reports crosses as counts since its call began
// and an age, so the driver's clock (an hour off here) places the
// newest throttle as long ago as the host saw it.
func TestThrottlingCrossesAsAnAgeFromTheCallsStart(t *testing.T) {
	host := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	th := azure.Throttling{Throttled: 9, Last: host.Add(-3 * time.Second), Parallel: 2, RateCap: 48 << 20}
	b, err := json.Marshal(progressBody{Throttle: throttleBodyOf(th, 4, host)})
	if err != nil {
		t.Fatal(err)
	}
	var p progressBody
	if err := json.Unmarshal(b, &p); err != nil || p.Throttle == nil {
		t.Fatalf("%s: %v", b, err)
	}
	driver := host.Add(time.Hour)
	got := p.Throttle.throttling(driver)
	if got.Throttled != 5 || got.Parallel != 2 || got.RateCap != 48<<20 || !got.Last.Equal(driver.Add(-3*time.Second)) {
		t.Fatalf("crossed as %s, read as %+v", b, got)
	}
	if none := throttleBodyOf(azure.Throttling{Parallel: 4}, 0, host).throttling(driver); !none.Last.IsZero() || none.Throttled != 0 {
		t.Fatalf("never throttled, read as %+v", none)
	}
}

package workflow

import (
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/azure"
)

type fakeThrottling struct{ th azure.Throttling }

func (f *fakeThrottling) Throttling() azure.Throttling { return f.th }

// A disk Azure throttles reads "throttled" in the view while it happens,
// with the throttled answers of this sync only (not those of earlier
// syncs of the same blob) and the requests it may have in flight; when
// the sync closes the disk, the log says what happened and the view
// forgets it.
func TestThrottledDiskShowsInTheViewAndTheLog(t *testing.T) {
	r := jobRecord{State: StatePhase1, Flow: flowStart, VMs: []vmRecord{{Name: "web01", Disks: []diskRecord{{Blob: "web01-os"}}}}}
	j := newJob(&Manager{hub: newHub(), deps: Deps{ReadOnly: true, Now: time.Now}}, &r)
	k := diskKey{0, 0}
	f := &fakeThrottling{azure.Throttling{Throttled: 7, Last: time.Now().Add(-time.Hour), Parallel: 4}}
	sample, done := j.watchThrottle(k, "web01 os", f)
	sample()
	if d := j.view().VMs[0].Disks[0]; d.Throttled || d.Throttles != 0 || d.Parallel != 4 {
		t.Fatalf("before any throttle of this sync: %+v", d)
	}
	f.th = azure.Throttling{Throttled: 10, Last: time.Now(), Parallel: 2, RateCap: 48 << 20}
	sample()
	if d := j.view().VMs[0].Disks[0]; !d.Throttled || d.Throttles != 3 || d.Parallel != 2 {
		t.Fatalf("throttled now: %+v, want throttled, 3 answers, 2 in flight", d)
	}
	done()
	if d := j.view().VMs[0].Disks[0]; d.Throttled || d.Throttles != 0 {
		t.Fatalf("after the sync closed the disk: %+v", d)
	}
	var logged string
	for _, l := range j.log.last(0) {
		logged += l.Text + "\n"
	}
	if !strings.Contains(logged, "web01 os: Azure throttled 3 request(s)") || !strings.Contains(logged, "2 parallel request(s) and about 48") {
		t.Fatalf("log:\n%s", logged)
	}
}

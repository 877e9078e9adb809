package workflow_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/internal/faultproxy"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// TestMoversReportAzureThrottling: the host's mover reads the snapshot
// through a proxy that refuses, with 429 and Retry-After, what goes over
// 4 MiB/s. While it does, the job's view (which the console and status
// show) says the disk is throttled by Azure, with the refused requests
// and how many the mover sends at once, as for a disk this process reads
// itself; the job's log says what the throttling did once the pass is
// over, and the disk equals its blob.
func TestMoversReportAzureThrottling(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{16 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, StopBelow: "1K",
		MoverThrottle: faultproxy.Throttle{Rate: 4 << 20, Burst: 250 * time.Millisecond}})
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem,
		Location: workflow.LocOriginal, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var seen workflow.DiskView // the first view of the disk throttled
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			if v, ok := m.Job(id); ok && len(v.VMs) == 1 && len(v.VMs[0].Disks) == 1 {
				if d := v.VMs[0].Disks[0]; d.Throttled {
					mu.Lock()
					if !seen.Throttled {
						seen = d
					}
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	close(stop)
	<-watched

	refused := l.MoverProxy.Throttled()
	mu.Lock()
	d := seen
	mu.Unlock()
	if refused == 0 {
		t.Fatal("the proxy refused none of the mover's reads: no throttling tested")
	}
	if !d.Throttled || d.Throttles <= 0 || d.Throttles > refused || d.Parallel <= 0 {
		t.Fatalf("the proxy refused %d of the mover's reads; the disk's view while it did: throttled %v, %d refused, %d in flight\n%s",
			refused, d.Throttled, d.Throttles, d.Parallel, labtest.LogText(m, id))
	}
	if txt := workflow.ThrottleText(d); !strings.HasPrefix(txt, "throttled by Azure: ") {
		t.Fatalf("status line: %q", txt)
	}
	var logged bool
	for _, ll := range m.Log(id, 0) {
		if ll.Level == "warn" && strings.HasPrefix(ll.Text, "db db-disk0.vhd: Azure throttled ") {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("the job's log does not say Azure throttled the disk:\n%s", labtest.LogText(m, id))
	}
	if v, _ := m.Job(id); v.VMs[0].Disks[0].Throttled {
		t.Fatalf("the disk still reads throttled once its passes are over: %+v", v.VMs[0].Disks[0])
	}
	checkEqual(t, l, l.Image, vm)
	t.Logf("proxy refused %d reads; the view showed %s", refused, workflow.ThrottleText(d))
}

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
// over, and the disk equals its blob. Reverse replication's writes by
// the mover, throttled the same way, show and log the same.
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
	seen := watchThrottled(m, id)
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	checkThrottled(t, m, id, "reading", l.MoverProxy.Throttled(), seen(), 0)
	checkEqual(t, l, l.Image, vm)

	// Through to commit unthrottled; then the host's changes go back
	// through the throttle.
	l.MoverProxy.SetEnabled(false)
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	logged := len(m.Log(id, 0))
	labtest.WriteImage(t, l.Image("db", 0), 1<<20, []byte(strings.Repeat("z", 8<<20)))
	before := l.MoverProxy.Throttled()
	l.MoverProxy.SetEnabled(true)
	seen = watchThrottled(m, id)
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "the reverse cycle", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return v.ReverseCycles == 1 && v.State == workflow.StateCommitted
	})
	checkThrottled(t, m, id, "writing", l.MoverProxy.Throttled()-before, seen(), logged)
	if d := labtest.FirstDiff(labtest.ImageBytes(t, l.Image("db", 0)), l.BlobBytes(l.Blob("db", 0))); d >= 0 {
		t.Fatalf("the blob differs from the on-premises image at %d after throttled reverse replication", d)
	}
}

// watchThrottled follows job id's only disk until the returned func is
// called, which says how its view was the first time it read throttled.
func watchThrottled(m *workflow.Manager, id string) func() workflow.DiskView {
	var mu sync.Mutex
	var seen workflow.DiskView
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for {
			if v, ok := m.Job(id); ok && len(v.VMs) == 1 && len(v.VMs[0].Disks) == 1 && v.VMs[0].Disks[0].Throttled {
				mu.Lock()
				if !seen.Throttled {
					seen = v.VMs[0].Disks[0]
				}
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() workflow.DiskView {
		close(stop)
		<-watched
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// checkThrottled: the proxy refused some of the mover's requests, the
// view showed the disk throttled with at most those refusals, the
// status line says so, the job's log (from line from) says what it did,
// and the view no longer says it.
func checkThrottled(t *testing.T, m *workflow.Manager, id, what string, refused int64, d workflow.DiskView, from int) {
	t.Helper()
	if refused == 0 {
		t.Fatalf("%s: the proxy refused none of the mover's requests: no throttling tested", what)
	}
	if !d.Throttled || d.Throttles <= 0 || d.Throttles > refused || d.Parallel <= 0 {
		t.Fatalf("%s: the proxy refused %d of the mover's requests; the disk's view while it did: throttled %v, %d refused, %d in flight\n%s",
			what, refused, d.Throttled, d.Throttles, d.Parallel, labtest.LogText(m, id))
	}
	if txt := workflow.ThrottleText(d); !strings.HasPrefix(txt, "throttled by Azure: ") {
		t.Fatalf("%s: status line %q", what, txt)
	}
	var logged bool
	for _, ll := range m.Log(id, 0)[from:] {
		if ll.Level == "warn" && strings.HasPrefix(ll.Text, "db db-disk0.vhd: Azure throttled ") {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("%s: the job's log does not say Azure throttled the disk:\n%s", what, labtest.LogText(m, id))
	}
	if v, _ := m.Job(id); v.VMs[0].Disks[0].Throttled {
		t.Fatalf("%s: the disk still reads throttled once its transfer is over: %+v", what, v.VMs[0].Disks[0])
	}
	t.Logf("%s: the proxy refused %d requests; the view showed %s", what, refused, workflow.ThrottleText(d))
}

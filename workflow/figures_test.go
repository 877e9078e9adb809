package workflow_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// sampler reads a job's view every few milliseconds, as a console does.
type sampler struct {
	mu    sync.Mutex
	views []sampled
	stop  chan struct{}
	done  chan struct{}
}

type sampled struct {
	at time.Time
	v  workflow.JobView
}

func sample(svc workflow.Service, id string) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			if v, ok := svc.Job(id); ok {
				s.mu.Lock()
				s.views = append(s.views, sampled{time.Now(), v})
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) end() []sampled {
	close(s.stop)
	<-s.done
	return s.views
}

// The figures of a real lab job, sampled all through phase 1, catch-up,
// ready, Complete failover, verification and the start: within a phase
// (its own label) the job's percentage never goes back; within a step of
// a pass a disk's never does, and what the pass moved never shrinks (a
// verification keeps it); no time left is given from a step's first
// samples; the totals end with the final delta and the downtime.
func TestFiguresOfALabJobAreMonotonicAndMeasured(t *testing.T) {
	t.Parallel() // one of the slowest (a lab job end to end): it runs beside the others
	o := labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{6 << 20, 4 << 20}}, {Name: "web", Disks: []int64{4 << 20}}},
		Plans: map[string][][]string{"app": {{"db"}, {"web"}}}, MaxPasses: 1, StopBelow: "1K", Verify: true,
		BlockSize: "64K", Bandwidth: "2M"}
	l := labtest.New(t, o)
	l.StartWriters(100)
	d := l.Deps()
	d.ReadyCatchUp = -1 // this test completes at once; ready_test.go covers the passes while ready
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	s := sample(m, id)
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if v.CompleteNow == nil || !strings.Contains(v.CompleteNow.Basis, "rate of change its catch-up passes measured") || v.Percent != 100 {
		t.Fatalf("ready: %+v", v)
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	v = labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	views := s.end()
	if !v.Totals.FinalDone || v.Totals.Downtime <= 0 || v.Totals.DowntimeLive || v.Totals.Moved < v.Totals.FinalDelta || v.Totals.Passes != 9 {
		t.Fatalf("totals at pending commit: %+v", v.Totals)
	}
	checkMonotonic(t, views)
}

func checkMonotonic(t *testing.T, views []sampled) {
	t.Helper()
	type key struct{ disk, pass, step string }
	last := map[key]workflow.DiskView{}
	firstSeen := map[key]time.Time{}
	phases := map[string]bool{}
	var prev workflow.JobView
	var moved int64
	verified := false
	for i, s := range views {
		v := s.v
		if v.State.Moving() && v.Phase == "" {
			t.Fatalf("sample %d: %s without a phase label", i, v.State)
		}
		phases[v.Phase] = true
		if i > 0 && v.Phase == prev.Phase && v.State.Moving() && v.Percent < prev.Percent {
			t.Fatalf("sample %d: the job went back from %.1f%% to %.1f%% within %q", i, prev.Percent, v.Percent, v.Phase)
		}
		if v.Totals.Moved < moved {
			t.Fatalf("sample %d: moved in all went back from %d to %d\n%s\n%s", i, moved, v.Totals.Moved, disksText(prev), disksText(v))
		}
		moved = v.Totals.Moved
		for _, vm := range v.VMs {
			for _, d := range vm.Disks {
				k := key{vm.Name + "/" + d.Name, d.Pass, d.Phase}
				if _, ok := firstSeen[k]; !ok {
					firstSeen[k] = s.at
				}
				if p, ok := last[k]; ok && (d.Percent < p.Percent || d.BytesChecked < p.BytesChecked && d.Phase != "done") {
					t.Fatalf("sample %d: %s went back in %s %s: %.1f%% -> %.1f%%", i, k.disk, k.pass, k.step, p.Percent, d.Percent)
				}
				if d.Phase == "checksum" || d.Phase == "transfer" || d.Phase == "verify" {
					if d.ETA > 0 && s.at.Sub(firstSeen[k]) < 1500*time.Millisecond {
						t.Fatalf("sample %d: %s %s %s gave %s left %s after it started: from its first samples", i, k.disk, k.pass, k.step, d.ETA, s.at.Sub(firstSeen[k]))
					}
					if d.BytesToCheck > 0 && d.Percent != 100*float64(d.BytesChecked)/float64(d.BytesToCheck) && d.Percent < 100*float64(d.BytesChecked)/float64(d.BytesToCheck)-0.001 {
						t.Fatalf("sample %d: %s shows %.1f%% beside %d of %d", i, k.disk, d.Percent, d.BytesChecked, d.BytesToCheck)
					}
				}
				// What a pass moved never shrinks, verifying included.
				for pk, p := range last {
					if pk.disk == k.disk && pk.pass == k.pass && pk.pass != "" && d.Phase != "waiting" && d.BytesTransferred < p.BytesTransferred {
						t.Fatalf("sample %d: %s %s moved %d after %d (%s -> %s)", i, k.disk, k.pass, d.BytesTransferred, p.BytesTransferred, pk.step, k.step)
					}
				}
				if d.Phase == "verify" && d.BytesTransferred > 0 {
					verified = true
				}
				last[k] = d
			}
		}
		prev = v
	}
	for _, want := range []string{"phase 1", "phase 2: final delta", "phase 2: verifying"} {
		if !phases[want] {
			t.Errorf("never saw the phase %q (saw %v)", want, fmt.Sprint(phases))
		}
	}
	if !verified {
		t.Error("never saw a disk verify with its pass's figures")
	}
}

func disksText(v workflow.JobView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:", v.State, v.Phase)
	for _, vm := range v.VMs {
		for _, d := range vm.Disks {
			fmt.Fprintf(&b, " [%s %s %s moved %d pass %d]", d.Name, d.Pass, d.Phase, d.Moved, d.BytesTransferred)
		}
	}
	return b.String()
}

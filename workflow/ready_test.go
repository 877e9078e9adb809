package workflow_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/crypt"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// A job ready to complete keeps catching up while it waits: passes run
// at the pace asked, the job stays ready (Complete applies all along),
// the estimate of Complete now follows the newest snapshot, and Complete
// pressed in the middle of a pass still leaves every disk equal to Azure
// at shutdown.
func TestReadyJobKeepsCatchingUpAndCompletes(t *testing.T) {
	t.Parallel() // one of the slowest (a lab job end to end): it runs beside the others
	vm := labtest.VM{Name: "db", Disks: []int64{4 << 20, 2 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, MaxPasses: 1, StopBelow: "1K", BlockSize: "64K", Verify: true})
	l.StartWriters(200)
	d := l.Deps()
	d.ReadyCatchUp = 300 * time.Millisecond
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	first, since := v.Pass, v.CompleteNow.Since
	labtest.WaitFor(t, "two catch-up passes while ready", jobTimeout, func() bool {
		v, _ := m.Job(id)
		if v.State != workflow.StateReady {
			t.Fatalf("the job left ready by itself: %s", v.State)
		}
		return v.Pass >= first+2 && v.CompleteNow != nil && v.CompleteNow.Since.After(since)
	})
	if st := labtest.Action(m, id, workflow.ActComplete); !st.Enabled || !strings.Contains(st.Confirm, "Complete now: about") {
		t.Fatalf("complete while catching up: %+v", st)
	}
	// Complete in the middle of a pass while ready.
	labtest.WaitFor(t, "a catch-up pass under way while ready", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return strings.Contains(v.Phase, "catching up")
	})
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, vm)
	// The passes while ready were spaced as asked, never faster.
	passes := readPasses(t, l.Cfg.StateDir, id)[0]
	var prev time.Time
	for _, p := range passes {
		if p.Kind == "catch-up" && p.Round > 1 && !prev.IsZero() && p.Taken.Sub(prev) < 300*time.Millisecond {
			t.Fatalf("catch-up %d while ready snapshotted %s after the one before", p.Round, p.Taken.Sub(prev))
		}
		prev = p.Taken
	}
}

// An encrypted job catching up while ready holds no data key between its
// passes: each pass unwraps them again, and they are destroyed before
// the wait.
func TestReadyPassesHoldNoKeysBetweenThem(t *testing.T) {
	var mu sync.Mutex
	var seen []*crypt.Unlocked
	defer workflow.OnUnlock(func(u *crypt.Unlocked) {
		mu.Lock()
		seen = append(seen, u)
		mu.Unlock()
	})()
	vm := labtest.VM{Name: "sql", Disks: []int64{2 << 20}, Encrypted: true}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	l.StartWriters(100)
	d := l.Deps()
	d.ReadyCatchUp = 300 * time.Millisecond
	m := l.Open(d)
	id, err := m.Start(context.Background(), workflow.Choices{VM: "sql", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta,
		CertThumbprint: l.Cert.Thumbprint}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	first := labtest.Wait(t, m, id, jobTimeout, workflow.StateReady).Pass
	labtest.WaitFor(t, "two catch-up passes while ready, keys unwrapped for each", jobTimeout, func() bool {
		v, _ := m.Job(id)
		mu.Lock()
		defer mu.Unlock()
		return v.Pass >= first+2 && len(seen) >= 3
	})
	labtest.WaitFor(t, "every key destroyed between the passes", jobTimeout, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range seen {
			for _, k := range u.Keys {
				if !k.Destroyed() {
					return false
				}
			}
		}
		return true
	})
}

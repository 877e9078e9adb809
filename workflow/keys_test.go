package workflow_test

import (
	"context"
	"sync"
	"testing"

	"github.com/failback/failback/crypt"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// Attack: a memory dump of a failback process whose encrypted job rests
// (ready to complete can last days) holds the disks' data keys and the
// certificate's private key. The private key is destroyed as soon as the
// keys are unwrapped, and the data keys when the job comes to rest; the
// next flow (Complete failover) unwraps them again and works.
func TestEncryptedJobDestroysKeysWhenItRests(t *testing.T) {
	var mu sync.Mutex
	var seen []*crypt.Unlocked
	defer workflow.OnUnlock(func(u *crypt.Unlocked) {
		mu.Lock()
		seen = append(seen, u)
		mu.Unlock()
	})()
	allDestroyed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range seen {
			if !u.Cert.Destroyed() {
				return false
			}
			for _, k := range u.Keys {
				if !k.Destroyed() {
					return false
				}
			}
		}
		return len(seen) > 0
	}
	vm := labtest.VM{Name: "sql", Disks: []int64{2 << 20, 1 << 20}, Encrypted: true}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Verify: true})
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "sql", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta,
		CertThumbprint: l.Cert.Thumbprint}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	labtest.WaitFor(t, "the resting job's keys to be destroyed", jobTimeout, allDestroyed)

	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if n < 2 {
		t.Fatalf("%d certificate checks: Complete failover did not unwrap the keys again", n)
	}
	labtest.WaitFor(t, "the keys to be destroyed again", jobTimeout, allDestroyed)
	checkEqual(t, l, l.Image, vm) // the keys unwrapped again decrypted right
}

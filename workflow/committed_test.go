package workflow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// Once a failback is committed its VMs run on premises: the pre-flight of
// the same plan says they were already failed back by that job, and
// advises no Stop-VM (that would stop production). The downtime it
// measured is what the estimates of the next failback use.
func TestCommittedVMsAreAlreadyFailedBack(t *testing.T) {
	o := labtest.Options{VMs: []labtest.VM{{Name: "a", Disks: []int64{2 << 20}}, {Name: "b", Disks: []int64{2 << 20}}}}
	l := labtest.New(t, o)
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := workflow.Choices{VM: "a", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal, Sync: workflow.SyncFull}
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	rep, err := m.Preflight(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	said := false
	for _, r := range rep.Checks {
		if strings.Contains(r.Fix, "Stop-VM") {
			t.Fatalf("pre-flight advises stopping a VM job %s brought back: %+v", id, r)
		}
		said = said || !r.OK && strings.Contains(r.Detail, "already failed back by job "+id)
	}
	if rep.OK || !said {
		t.Fatalf("pre-flight of a committed VM: %+v", rep)
	}
	est, err := m.Estimate(ctx, workflow.Choices{VM: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(est.Why, "as job "+id+" measured") || est.FullDowntime < est.DeltaDowntime {
		t.Fatalf("estimate after a measured failback: %+v", est)
	}
}

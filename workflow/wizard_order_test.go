package workflow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// The console asks for the location check, the estimate and the
// certificates before the operator picks the sync option (docs/WORKFLOW.md
// order: where to, then how to sync); only the pre-flight needs it.
func TestLocationEstimateAndCertificatesBeforeTheSyncOption(t *testing.T) {
	vm := labtest.VM{Name: "app", Disks: []int64{2 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, AltHosts: []string{"hv02"}})
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := workflow.Choices{VM: "app", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocAlternate, AltHost: "hv02", CreateVM: true}
	if _, err := m.CheckLocation(ctx, c); err != nil {
		t.Fatalf("location check without a sync option: %v", err)
	}
	if _, err := m.Estimate(ctx, c); err != nil {
		t.Fatalf("estimate without a sync option: %v", err)
	}
	if _, err := m.Certificates(ctx, c); err != nil {
		t.Fatalf("certificates without a sync option: %v", err)
	}
	if _, err := m.Preflight(ctx, c); err == nil || !strings.Contains(err.Error(), "sync option") {
		t.Fatalf("pre-flight without a sync option: %v", err)
	}
}

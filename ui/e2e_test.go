package ui

import (
	"testing"
	"time"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// The console on the real workflow (Azurite, lab host, lab compute), not
// the fake: the plan shows its disk's size read from Azure, the wizard starts a delta failback of one VM with keys, the
// monitor shows it ready, Complete failover is confirmed, and once the
// job is pending commit the on-premises disk holds exactly the Azure
// disk's bytes.
func TestConsoleDrivesARealDeltaFailback(t *testing.T) {
	vm := labtest.VM{Name: "web01", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, MaxPasses: 1, StopBelow: "1M"})
	l.StartWriters(20) // the Azure VM keeps writing until phase 2 shuts it down
	m := l.Open(l.Deps())

	ui := New(m, uitest.Operator, Options{Renderer: asciiRenderer(), Page: PageWizard, Refresh: 50 * time.Millisecond})
	t.Cleanup(ui.Close)
	s := startModel(t, ui, 100, 30, "web01 (VM)")
	s.at = s.sc.waitFor(t, 0, "1 disk(s), 4.0 MiB") // the size, read in the background
	s.press([]string{"enter"}, "FROM (source)")
	s.press([]string{"y"}, "checks passed.")
	s.press([]string{"enter"}, "Recommended:")
	s.press([]string{"enter"}, "checks passed.", "(Certificate)") // no encrypted disk: skipped
	s.press([]string{"enter"}, "(nothing has moved yet)")
	s.press([]string{"enter"}, "Started ")
	jobs := m.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs after Start", len(jobs))
	}
	id := jobs[0].ID
	labtest.Wait(t, m, id, time.Minute, workflow.StateReady)
	s.at = s.sc.waitFor(t, s.at, "ready-to-complete", "[c] Complete failover")
	s.press([]string{"c"}, "Complete failover? Job "+id)
	from := s.sc.mark()
	s.press([]string{"y"}, "Complete failover accepted for "+id)
	labtest.Wait(t, m, id, time.Minute, workflow.StatePendingCommit)
	s.sc.waitFor(t, from, "pending-commit", "[m] Commit")
	s.final()

	img, blob := labtest.ImageBytes(t, l.Image("web01", 0)), l.BlobBytes(l.Blob("web01", 0))
	if at := labtest.FirstDiff(img, blob); at >= 0 {
		t.Fatalf("on-premises disk differs from the Azure disk at byte %d", at)
	}
}

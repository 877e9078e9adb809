package workflow_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// TestCancelWithDamagedJournalFails: a pass journal damaged in the middle
// makes Cancel end in failed, not cancelled: the error names the disk and
// the blocks that could not be restored, the journals are kept, and the
// log never claims every disk is as before.
func TestCancelWithDamagedJournalFails(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{8 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	journal := filepath.Join(l.Cfg.StateDir, "jobs", id, "disks", "db", "0", "pass-0")
	if info, err := engine.ReadJournal(journal); err != nil || info.UndoBytes == 0 {
		t.Fatalf("phase 1 journal: %+v %v", info, err)
	}
	undo := filepath.Join(journal, "undo")
	b, err := os.ReadFile(undo)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(undo, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Act(ctx, id, workflow.ActCancel, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "cancel to end", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return v.State == workflow.StateFailed || v.State == workflow.StateCancelled
	})
	jv, _ := m.Job(id)
	image, _ := filepath.Abs(l.Image("db", 0))
	if jv.State != workflow.StateFailed || !strings.Contains(jv.Error, image) || !strings.Contains(jv.Error, "(bytes ") ||
		!strings.Contains(jv.Error, "is incomplete") || strings.Contains(jv.Error, "cancel again to finish") {
		t.Fatalf("job %s: %s\n%s", jv.State, jv.Error, labtest.LogText(m, id))
	}
	if _, err := os.Stat(undo); err != nil {
		t.Fatalf("the damaged journal was not kept: %v", err)
	}
	if log := labtest.LogText(m, id); strings.Contains(log, "as it was before the job;") {
		t.Fatalf("the log claims the disks are restored:\n%s", log)
	}
	t.Log(jv.Error)
}

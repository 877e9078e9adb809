package workflow_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/vdisk"
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
	journal := l.JournalDir(id, "db", 0, 0)
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

// imageSpace is an image file's size and the image's own allocation.
func imageSpace(t *testing.T, path string) (int64, []vdisk.Extent) {
	t.Helper()
	img, err := vdisk.Open(path, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	alloc, err := img.Allocated()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size(), alloc
}

// TestCancelGivesTheImageFileBack: phase 1 writes blocks the on-premises
// VHDX did not have (the file grows); Cancel leaves the file its old size
// with the same blocks allocated, not only the same bytes, so cycles of
// fail back and cancel do not eat the volume. No file (a write lock) is
// left beside the image.
func TestCancelGivesTheImageFileBack(t *testing.T) {
	vm := labtest.VM{Name: "web", Disks: []int64{8 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	image := l.Image("web", 0)
	// Give the on-premises image unallocated blocks where Azure has data,
	// and cut its file back, as a VM's disk that never used them.
	img, err := vdisk.Open(image, vdisk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := img.(vdisk.Deallocator).Deallocate(3<<20, 5<<20); err != nil {
		t.Fatal(err)
	}
	if err := img.(vdisk.Deallocator).Trim(); err != nil {
		t.Fatal(err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	size0, alloc0 := imageSpace(t, image)
	before := hashes(t, l, vm)
	m := l.Open(l.Deps())
	ctx := context.Background()
	for cycle := range 2 {
		id, err := m.Start(ctx, workflow.Choices{VM: "web", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
		if err != nil {
			t.Fatal(err)
		}
		labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
		if names := folderNames(t, filepath.Dir(image)); len(names) != 1 {
			t.Fatalf("cycle %d: failback left files beside the image: %v", cycle, names)
		}
		if size, alloc := imageSpace(t, image); size <= size0 || slices.Equal(alloc, alloc0) {
			t.Fatalf("cycle %d: phase 1 should have allocated new blocks (%d bytes, %v; before %d, %v)", cycle, size, alloc, size0, alloc0)
		}
		if err := m.Act(ctx, id, workflow.ActCancel, labtest.Operator); err != nil {
			t.Fatal(err)
		}
		labtest.Wait(t, m, id, jobTimeout, workflow.StateCancelled)
		checkRestored(t, l, m, id, before, vm)
		if size, alloc := imageSpace(t, image); size != size0 || !slices.Equal(alloc, alloc0) {
			t.Fatalf("cycle %d: after cancel the file has %d bytes, allocated %v; before %d, %v", cycle, size, alloc, size0, alloc0)
		}
	}
}

func folderNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

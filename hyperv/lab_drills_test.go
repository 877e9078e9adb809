package hyperv_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
)

// TestLabCheckpointsModelDifferencingDisks: while a checkpoint exists the
// VM's writes go to the child and the configured image is only its
// parent; removing the checkpoints merges the child into the parent.
func TestLabCheckpointsModelDifferencingDisks(t *testing.T) {
	h := newLab(t)
	spec := labSpec(h, "web01", 2)
	if _, err := h.CreateVM(bg, spec); err != nil {
		t.Fatal(err)
	}
	parent := spec.Disks[0].HostPath
	if err := h.Checkpoint(bg, "web01", "before patching"); err != nil {
		t.Fatal(err)
	}
	vm, err := h.GetVM(bg, "web01")
	if err != nil {
		t.Fatal(err)
	}
	child := vm.Disks[0].HostPath
	if len(vm.Checkpoints) != 1 || vm.Disks[0].ParentPath != parent || child == parent || vm.Disks[0].VirtualSize != 64<<20 {
		t.Fatalf("after a checkpoint: %+v", vm)
	}
	// The VM writes: to the child.
	want := bytes.Repeat([]byte("after the checkpoint "), 100)
	img, err := vdisk.Open(child, vdisk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.WriteAt(want, 3<<20); err != nil {
		t.Fatal(err)
	}
	img.Close()
	if err := h.StartVM(bg, "web01"); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveCheckpoints(bg, "web01"); !errors.Is(err, hyperv.ErrBadState) {
		t.Fatalf("merging a running lab VM's checkpoints: %v", err)
	}
	if _, err := h.ShutdownVM(bg, "web01", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveCheckpoints(bg, "web01"); err != nil {
		t.Fatal(err)
	}
	vm, _ = h.GetVM(bg, "web01")
	if len(vm.Checkpoints) != 0 || vm.Disks[0].HostPath != parent || vm.Disks[0].ParentPath != "" {
		t.Fatalf("after removing the checkpoints: %+v", vm)
	}
	if _, err := os.Stat(child); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the child is still there: %v", err)
	}
	img, err = vdisk.Open(parent, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	got := make([]byte, len(want))
	if _, err := img.ReadAt(got, 3<<20); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the child's writes were not merged into the parent: %v", err)
	}
}

// TestLabSavedStateIsDiscarded: Saved and Paused hold the disks; discarding
// leaves the VM Off and the disks free; a running VM is refused.
func TestLabSavedStateIsDiscarded(t *testing.T) {
	h := newLab(t)
	spec := labSpec(h, "app", 2)
	if _, err := h.CreateVM(bg, spec); err != nil {
		t.Fatal(err)
	}
	for _, st := range []hyperv.VMState{hyperv.StateSaved, hyperv.StatePaused} {
		if err := h.SetState(bg, "app", st); err != nil {
			t.Fatal(err)
		}
		if u, _ := h.DiskInUse(bg, spec.Disks[0].HostPath); !u.InUse {
			t.Fatalf("a %s VM's disk is free", st)
		}
		if err := h.DiscardSavedState(bg, "app"); err != nil {
			t.Fatal(err)
		}
		if vm, _ := h.GetVM(bg, "app"); vm.State != hyperv.StateOff {
			t.Fatalf("after discarding %s: %s", st, vm.State)
		}
	}
	if err := h.StartVM(bg, "app"); err != nil {
		t.Fatal(err)
	}
	if err := h.DiscardSavedState(bg, "app"); !errors.Is(err, hyperv.ErrBadState) {
		t.Fatalf("discarding a running VM's state: %v", err)
	}
}

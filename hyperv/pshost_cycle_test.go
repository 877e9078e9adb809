package hyperv

import (
	"errors"
	"strings"
	"testing"
)

// Reverse replication cycles on a real host: a recovery checkpoint with
// the changes since the last reference point, then the reference point.
func TestPSHostReverseCycle(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "begin-cycle-db01", output: "begin-cycle-db01"},
		step{golden: "end-cycle-db01", output: "end-cycle-db01"},
		step{golden: "end-cycle-db01", output: "error-end-cycle-gone"},
	)
	since := []string{"rctX:4a1c9e2b-3d5f-4e6a-8b7c-9d0e1f2a3b4c:11", "rctX:7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b:2"}
	c, err := h.BeginCycle(ctx, "db01", CycleOptions{Tag: "failback 250512-0900-01", Since: since})
	if err != nil {
		t.Fatal(err)
	}
	if c.Checkpoint != "5c3a9e1b-7d42-4f6e-9a10-2b8c4d6e8f01" || c.Consistency != AppConsistent || len(c.Removed) != 1 || len(c.Disks) != 2 {
		t.Fatalf("cycle: %+v", c)
	}
	os := c.Disks[0]
	if !os.ChangesKnown || len(os.Changed) != 2 || os.Changed[1] != (Extent{Off: 3 << 20, Len: 64 << 10}) || os.CheckFrozen("db01") != nil {
		t.Fatalf("os disk: %+v", os)
	}
	if data := c.Disks[1]; data.ChangesKnown || !strings.Contains(data.Why, "written outside Hyper-V") {
		t.Fatalf("data disk: %+v", data)
	}
	rp, err := h.EndCycle(ctx, "db01", c, CycleEnd{Keep: true, Drop: []string{"Microsoft:0B7E4C2A-1F3D-4E5B-8C9A-6D2F1E0A3B4C"}})
	if err != nil || rp.ID != "Microsoft:5C3A9E1B-7D42-4F6E-9A10-2B8C4D6E8F01" || len(rp.RCT) != 2 {
		t.Fatalf("reference point: %+v %v", rp, err)
	}
	if _, err := h.EndCycle(ctx, "db01", c, CycleEnd{Keep: true, Drop: []string{"Microsoft:0B7E4C2A-1F3D-4E5B-8C9A-6D2F1E0A3B4C"}}); !errors.Is(err, ErrBadState) {
		t.Fatalf("ending a cycle whose checkpoint is gone: %v", err)
	}
}

// A VM that runs on checkpoints of its own is frozen on its newest child:
// the disk failback wrote is not what the guest sees, and the cycle says
// so with the fix.
func TestPSHostCycleOfAVMWithCheckpoints(t *testing.T) {
	h, _ := replayHost(t, step{golden: "begin-cycle-web02", output: "begin-cycle-web02-checkpoints"})
	c, err := h.BeginCycle(ctx, "web02", CycleOptions{Tag: "failback 250512-0900-02", CrashConsistent: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Consistency != CrashConsistent {
		t.Fatalf("consistency %q", c.Consistency)
	}
	err = c.Disks[0].CheckFrozen("web02")
	if err == nil || !strings.Contains(err.Error(), "Remove-VMCheckpoint") {
		t.Fatalf("a disk frozen on a checkpoint's child: %v", err)
	}
}

// A guest without an application-consistent checkpoint is a state error
// the workflow turns into what to do.
func TestPSHostCycleWithoutAppConsistency(t *testing.T) {
	h, _ := replayHost(t, step{golden: "begin-cycle-db01-first", output: "error-no-app-consistent-checkpoint"})
	_, err := h.BeginCycle(ctx, "db01", CycleOptions{Tag: "failback 250512-0900-01"})
	if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), "Backup integration service") {
		t.Fatalf("refusal: %v", err)
	}
}

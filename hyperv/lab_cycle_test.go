package hyperv_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
)

// TestLabCycleLeftoverIsMergedNotLost: a cycle that was never ended (the
// process died) leaves a checkpoint whose child holds what the guest
// wrote since; the next cycle merges it into the disk before freezing
// again, says so, and the dead cycle can no longer be ended.
func TestLabCycleLeftoverIsMergedNotLost(t *testing.T) {
	h := newLab(t)
	spec := labSpec(h, "web01", 2)
	if _, err := h.CreateVM(bg, spec); err != nil {
		t.Fatal(err)
	}
	if err := h.StartVM(bg, "web01"); err != nil {
		t.Fatal(err)
	}
	disk := spec.Disks[0].HostPath
	dead, err := h.BeginCycle(bg, "web01", hyperv.CycleOptions{Tag: "failback job1"})
	if err != nil {
		t.Fatal(err)
	}
	if dead.Consistency != hyperv.AppConsistent || len(dead.Disks) != 1 || dead.Disks[0].ChangesKnown {
		t.Fatalf("first cycle: %+v", dead)
	}
	want := bytes.Repeat([]byte("while frozen "), 1000)
	if err := h.GuestWrite(bg, "web01", 0, 5<<20, want); err != nil {
		t.Fatal(err)
	}
	if got := readAt(t, disk, 5<<20, len(want)); bytes.Equal(got, want) {
		t.Fatal("a guest write reached the frozen disk")
	}
	next, err := h.BeginCycle(bg, "web01", hyperv.CycleOptions{Tag: "failback job1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Removed) != 1 || next.Removed[0] != dead.Checkpoint {
		t.Fatalf("the leftover checkpoint is not reported removed: %+v", next)
	}
	if got := readAt(t, disk, 5<<20, len(want)); !bytes.Equal(got, want) {
		t.Fatal("the leftover checkpoint's writes were lost")
	}
	if _, err := h.EndCycle(bg, "web01", dead, hyperv.CycleEnd{Keep: true}); !errors.Is(err, hyperv.ErrBadState) {
		t.Fatalf("ending a removed cycle: %v", err)
	}
	rp, err := h.EndCycle(bg, "web01", next, hyperv.CycleEnd{Keep: true})
	if err != nil || rp.ID == "" || len(rp.RCT) != 1 {
		t.Fatalf("end: %+v %v", rp, err)
	}
	// The next cycle knows what changed since that reference point.
	if err := h.GuestWrite(bg, "web01", 0, 1<<20, []byte("x")); err != nil {
		t.Fatal(err)
	}
	c, err := h.BeginCycle(bg, "web01", hyperv.CycleOptions{Tag: "failback job1", Since: rp.RCT})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Disks[0]; !d.ChangesKnown || len(d.Changed) != 1 || d.Changed[0] != (hyperv.Extent{Off: 1 << 20, Len: 1}) {
		t.Fatalf("changes since the reference point: %+v", d)
	}
	// Dropped with the next one kept, its ids are gone.
	rp2, err := h.EndCycle(bg, "web01", c, hyperv.CycleEnd{Keep: true, Drop: []string{rp.ID}})
	if err != nil {
		t.Fatal(err)
	}
	c, err = h.BeginCycle(bg, "web01", hyperv.CycleOptions{Tag: "failback job1", Since: rp.RCT})
	if err != nil || c.Disks[0].ChangesKnown {
		t.Fatalf("a dropped reference point still answers: %+v %v", c.Disks[0], err)
	}
	if _, err := h.EndCycle(bg, "web01", c, hyperv.CycleEnd{}); err != nil {
		t.Fatal(err)
	}
	c, err = h.BeginCycle(bg, "web01", hyperv.CycleOptions{Tag: "failback job1", Since: rp2.RCT})
	if err != nil || !c.Disks[0].ChangesKnown || len(c.Disks[0].Changed) != 0 {
		t.Fatalf("the kept reference point: %+v %v", c.Disks[0], err)
	}
}

func readAt(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	img, err := vdisk.Open(path, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	p := make([]byte, n)
	if _, err := img.ReadAt(p, off); err != nil {
		t.Fatal(err)
	}
	return p
}

package hyperv_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/hyperv"
)

// setFreeBytes edits the lab's host.json as an operator would.
func setFreeBytes(t *testing.T, h *hyperv.LabHost, n int64) {
	t.Helper()
	p := filepath.Join(h.Dir(), "host.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var cfg hyperv.LabConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.FreeBytes = n
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

const mib = 1 << 20

func threeDisks(h *hyperv.LabHost) hyperv.VMSpec {
	s := labSpec(h, "web01", 2)
	s.Disks = []hyperv.DiskSpec{
		{HostPath: filepath.Join(h.DiskFolder(), "os.vhdx"), VirtualSize: 64 * mib, Fixed: true, Controller: hyperv.Controller{Type: hyperv.SCSI}},
		{HostPath: filepath.Join(h.DiskFolder(), "data.vhdx"), VirtualSize: 1 << 30, AllocatedBytes: 20 * mib, Controller: hyperv.Controller{Type: hyperv.SCSI, Location: 1}},
		{HostPath: filepath.Join(h.DiskFolder(), "logs.vhdx"), VirtualSize: 64 * mib, Controller: hyperv.Controller{Type: hyperv.SCSI, Location: 2}},
	}
	return s
}

func TestCheckAlternateMissingSwitch(t *testing.T) {
	h := newLab(t)
	s := threeDisks(h)
	s.SwitchName = "Corp LAN"
	rep, err := hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{OriginalSwitchType: hyperv.SwitchExternal})
	if !errors.Is(err, hyperv.ErrSwitchNotFound) || rep.OK() || rep.SwitchFound {
		t.Fatalf("%+v %v", rep, err)
	}
	for _, want := range []string{"no virtual switch named 'Corp LAN'", "it has 'LAN', 'Internal'", "New-VMSwitch -Name 'Corp LAN' -NetAdapterName"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	_, err = hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{OriginalSwitchType: hyperv.SwitchInternal})
	if err == nil || !strings.Contains(err.Error(), "New-VMSwitch -Name 'Corp LAN' -SwitchType Internal") {
		t.Fatalf("internal original: %v", err)
	}
	for _, d := range s.Disks {
		if _, err := os.Stat(d.HostPath); err == nil {
			t.Fatalf("the check created %s", d.HostPath)
		}
	}
	// Hyper-V matches switch names without regard to case: a warning only.
	s.SwitchName = "lan"
	rep, err = hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{})
	if err != nil || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "'LAN'") {
		t.Fatalf("case: %+v %v", rep, err)
	}
}

// TestCheckAlternateSpace: a fixed disk counts its virtual size, a dynamic
// one the source's allocated bytes when known, else its virtual size; the
// report says which.
func TestCheckAlternateSpace(t *testing.T) {
	h := newLab(t)
	s := threeDisks(h)
	setFreeBytes(t, h, 100*mib)
	rep, err := hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{})
	if !errors.Is(err, hyperv.ErrNoSpace) || rep.OK() || !rep.SwitchFound || rep.VMExists {
		t.Fatalf("%+v %v", rep, err)
	}
	want := []struct {
		bytes int64
		basis string
	}{{64 * mib, "virtual size (fixed disk)"}, {20 * mib, "allocated bytes of the source"}, {64 * mib, "the worst case"}}
	for i, w := range want {
		if d := rep.Disks[i]; d.Bytes != w.bytes || !strings.Contains(d.Basis, w.basis) || d.Volume == "" {
			t.Errorf("disk %d: %+v, want %d bytes by %q", i, d, w.bytes, w.basis)
		}
	}
	if len(rep.Volumes) != 1 || rep.Volumes[0].Need != 148*mib || rep.Volumes[0].Free != 100*mib {
		t.Fatalf("volumes: %+v", rep.Volumes)
	}
	if !strings.Contains(err.Error(), "the disks need 148.0 MiB, 100.0 MiB is free; free 48.0 MiB") {
		t.Errorf("message: %v", err)
	}
	setFreeBytes(t, h, 200*mib)
	if _, err := hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{}); err != nil {
		t.Fatalf("enough room: %v", err)
	}
	if rep, err := hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{Headroom: 60 * mib}); !errors.Is(err, hyperv.ErrNoSpace) || rep.Volumes[0].Need != 208*mib {
		t.Fatalf("headroom counted: %+v %v", rep.Volumes, err)
	}
}

// TestCheckAlternateBothProblems: a missing switch and a full volume are
// both reported, and both kinds match.
func TestCheckAlternateBothProblems(t *testing.T) {
	h := newLab(t)
	s := threeDisks(h)
	s.SwitchName = "Corp LAN"
	setFreeBytes(t, h, mib)
	rep, err := hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{})
	if !errors.Is(err, hyperv.ErrSwitchNotFound) || !errors.Is(err, hyperv.ErrNoSpace) || len(rep.Problems) != 2 {
		t.Fatalf("%+v %v", rep.Problems, err)
	}
}

// TestCheckAlternateExistingVM: the existing VM's disks are the targets, so
// only the growth of its dynamic disks counts; a generation mismatch and a
// running VM are reported.
func TestCheckAlternateExistingVM(t *testing.T) {
	h := newLab(t)
	s := threeDisks(h)
	if _, err := h.CreateVM(bg, s); err != nil {
		t.Fatal(err)
	}
	setFreeBytes(t, h, 10*mib)
	rep, err := hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{})
	if !errors.Is(err, hyperv.ErrNoSpace) || !rep.VMExists || rep.Existing == nil || rep.Existing.Name != "web01" {
		t.Fatalf("%+v %v", rep, err)
	}
	data := rep.Disks[1]
	if data.Bytes <= 0 || data.Bytes >= 20*mib || !strings.Contains(data.Basis, "growth of the existing dynamic disk") {
		t.Fatalf("existing dynamic disk: %+v", data)
	}
	if rep.Disks[0].Bytes != 0 || rep.Disks[2].Bytes != 0 {
		t.Fatalf("fixed/unknown disks need nothing more: %+v", rep.Disks)
	}
	setFreeBytes(t, h, 0)
	if err := h.StartVM(bg, "web01"); err != nil {
		t.Fatal(err)
	}
	rep, err = hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{})
	if err != nil || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "is Running; it must be off") {
		t.Fatalf("running: %+v %v", rep, err)
	}
	s.Generation = 1
	s.Disks = nil
	_, err = hyperv.CheckAlternate(bg, h, s, hyperv.CheckOptions{})
	if !errors.Is(err, hyperv.ErrVMExists) || !strings.Contains(err.Error(), "generation 2 but the original is generation 1") {
		t.Fatalf("generation: %v", err)
	}
}

func TestEnsureVM(t *testing.T) {
	h := newLab(t)
	s := threeDisks(h)
	_, created, err := hyperv.EnsureVM(bg, h, s, false)
	if !errors.Is(err, hyperv.ErrVMNotFound) || created || !strings.Contains(err.Error(), `Choose "create the on-premises VM if it does not exist"`) {
		t.Fatalf("without create: %v", err)
	}
	setFreeBytes(t, h, mib)
	_, created, err = hyperv.EnsureVM(bg, h, s, true)
	if !errors.Is(err, hyperv.ErrNoSpace) || created {
		t.Fatalf("create refused by the check: %v", err)
	}
	if _, err := os.Stat(s.Disks[0].HostPath); err == nil {
		t.Fatal("a disk was created although the check failed")
	}
	setFreeBytes(t, h, 0)
	vm, created, err := hyperv.EnsureVM(bg, h, s, true)
	if err != nil || !created || len(vm.Disks) != 3 {
		t.Fatalf("create: %+v %v %v", vm, created, err)
	}
	_, created, err = hyperv.EnsureVM(bg, h, s, false)
	if err != nil || created {
		t.Fatalf("exists: %v %v", created, err)
	}
	s.Generation = 1
	s.Disks = nil
	if _, _, err := hyperv.EnsureVM(bg, h, s, true); !errors.Is(err, hyperv.ErrVMExists) {
		t.Fatalf("generation mismatch: %v", err)
	}
}

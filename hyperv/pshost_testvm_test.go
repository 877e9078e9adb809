package hyperv

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A test failback's scripts, golden, with answers in Windows PowerShell
// 5.1's shapes (a one-element list as the element, a list wrapped as
// {"value":..,"Count":..}).

func TestPSHostTestSwitchAndVMRemoval(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "ensure-switch", output: "ensure-switch-created"},
		step{golden: "remove-switch", output: "remove-switch-in-use"},
		step{golden: "remove-vm", output: "remove-vm"},
	)
	sw, created, err := h.EnsureSwitch(ctx, "failback-test", SwitchPrivate)
	if err != nil || !created || sw.Type != SwitchPrivate {
		t.Fatalf("EnsureSwitch: %+v %v %v", sw, created, err)
	}
	err = h.RemoveSwitch(ctx, "failback-test")
	if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), "still connects db01-test") {
		t.Fatalf("RemoveSwitch of a switch in use: %v", err)
	}
	if err := h.RemoveVM(ctx, "db01-test", false); err != nil {
		t.Fatal(err)
	}
	// An external test switch is refused before any script is sent.
	if _, _, err := h.EnsureSwitch(ctx, "LAN", SwitchExternal); !errors.Is(err, ErrBadState) {
		t.Fatalf("external test switch: %v", err)
	}
}

func TestPSHostCheckVM(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "check-vm-db01-test", output: "check-vm-db01-test"},
		step{golden: "check-vm-db01-test", output: "check-vm-no-address"},
	)
	c, err := h.CheckVM(ctx, "db01-test", []int{1433, 3389}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != StateRunning || len(c.Addresses) != 1 || len(c.Switches) != 1 || c.Switches[0].Type != SwitchInternal {
		t.Fatalf("check: %+v", c)
	}
	if len(c.Ports) != 2 || !c.Ports[0].Open || c.Ports[1].Open || !strings.Contains(c.Ports[1].Detail, "refused") {
		t.Fatalf("ports: %+v", c.Ports)
	}
	c, err = h.CheckVM(ctx, "db01-test", []int{1433, 3389}, 2*time.Second)
	if err != nil || len(c.Addresses) != 0 || len(c.Ports) != 1 || c.Ports[0].Open || c.Ports[0].Detail != "the VM reports no IP address" {
		t.Fatalf("a guest that reports no address: %+v %v", c, err)
	}
}

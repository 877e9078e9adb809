package hosttest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/failback/failback/hyperv"
)

// RunTestHostSuite runs the behaviour tests of what a test failback needs
// of a host (hyperv.TestHost) on fresh hosts from newHost.
func RunTestHostSuite(t *testing.T, newHost func(t *testing.T) Fixture) {
	tests := []struct {
		name string
		run  func(t *testing.T, f Fixture, h hyperv.TestHost)
	}{
		{"EnsureSwitchCreatesOnceAndNeverExternal", testEnsureSwitch},
		{"RemoveVMOffKeepsItsDisks", testRemoveVM},
		{"RemoveSwitchRefusedWhileConnected", testRemoveSwitch},
		{"CheckVMAfterStart", testCheckVM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newHost(t)
			h, ok := f.Host.(hyperv.TestHost)
			if !ok {
				t.Fatalf("%T does not implement hyperv.TestHost", f.Host)
			}
			tc.run(t, f, h)
		})
	}
}

func switchOf(t *testing.T, h hyperv.Host, name string) (hyperv.Switch, bool) {
	t.Helper()
	sw, err := h.ListSwitches(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sw, func(s hyperv.Switch) bool { return s.Name == name })
	if i < 0 {
		return hyperv.Switch{}, false
	}
	return sw[i], true
}

func testEnsureSwitch(t *testing.T, f Fixture, h hyperv.TestHost) {
	ctx := context.Background()
	sw, created, err := h.EnsureSwitch(ctx, "failback-test", hyperv.SwitchPrivate)
	if err != nil || !created || sw.Name != "failback-test" || sw.Type != hyperv.SwitchPrivate {
		t.Fatalf("first EnsureSwitch: %+v created %v, %v", sw, created, err)
	}
	if got, ok := switchOf(t, h, "failback-test"); !ok || got.Type != hyperv.SwitchPrivate {
		t.Fatalf("listed: %+v %v", got, ok)
	}
	if sw, created, err := h.EnsureSwitch(ctx, "failback-test", hyperv.SwitchPrivate); err != nil || created || sw.Type != hyperv.SwitchPrivate {
		t.Fatalf("second EnsureSwitch: %+v created %v, %v", sw, created, err)
	}
	// An existing switch is reported as it is, never changed.
	have, _ := switchOf(t, h, f.Switch)
	if sw, created, err := h.EnsureSwitch(ctx, f.Switch, hyperv.SwitchInternal); err != nil || created || sw.Type != have.Type {
		t.Fatalf("EnsureSwitch of the existing %s: %+v created %v, %v", f.Switch, sw, created, err)
	}
	_, _, err = h.EnsureSwitch(ctx, "prod", hyperv.SwitchExternal)
	wantKind(t, err, hyperv.ErrBadState)
	if _, ok := switchOf(t, h, "prod"); ok {
		t.Fatal("an external test switch was created")
	}
}

func testRemoveVM(t *testing.T, f Fixture, h hyperv.TestHost) {
	ctx := context.Background()
	vm := mustCreate(t, f, spec(f, "db01-test", 1))
	if err := h.StartVM(ctx, "db01-test"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, h.RemoveVM(ctx, "db01-test", false), hyperv.ErrBadState) // running: refused
	if _, err := h.ShutdownVM(ctx, "db01-test", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveVM(ctx, "db01-test", false); err != nil {
		t.Fatal(err)
	}
	_, err := h.GetVM(ctx, "db01-test")
	wantKind(t, err, hyperv.ErrVMNotFound)
	u, err := h.DiskInUse(ctx, vm.Disks[0].HostPath)
	if err != nil || !u.Exists || u.InUse {
		t.Fatalf("the removed VM's disk: %+v %v (it must stay, free)", u, err)
	}
	wantKind(t, h.RemoveVM(ctx, "db01-test", false), hyperv.ErrVMNotFound)
}

func testRemoveSwitch(t *testing.T, f Fixture, h hyperv.TestHost) {
	ctx := context.Background()
	if _, _, err := h.EnsureSwitch(ctx, "failback-test", hyperv.SwitchPrivate); err != nil {
		t.Fatal(err)
	}
	s := spec(f, "db01-test", 1)
	s.SwitchName = "failback-test"
	mustCreate(t, f, s)
	wantKind(t, h.RemoveSwitch(ctx, "failback-test"), hyperv.ErrBadState)
	if err := h.RemoveVM(ctx, "db01-test", false); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveSwitch(ctx, "failback-test"); err != nil {
		t.Fatal(err)
	}
	if _, ok := switchOf(t, h, "failback-test"); ok {
		t.Fatal("the switch is still listed")
	}
	if err := h.RemoveSwitch(ctx, "failback-test"); err != nil {
		t.Fatalf("removing a missing switch: %v", err)
	}
}

func testCheckVM(t *testing.T, f Fixture, h hyperv.TestHost) {
	ctx := context.Background()
	if _, _, err := h.EnsureSwitch(ctx, "failback-test", hyperv.SwitchPrivate); err != nil {
		t.Fatal(err)
	}
	s := spec(f, "db01-test", 1)
	s.SwitchName = "failback-test"
	mustCreate(t, f, s)
	c, err := h.CheckVM(ctx, "db01-test", nil, time.Second)
	if err != nil || c.State != hyperv.StateOff {
		t.Fatalf("check of an off VM: %+v %v", c, err)
	}
	if ok, detail, err := h.Heartbeat(ctx, "db01-test"); err != nil || ok || detail == "" {
		t.Fatalf("heartbeat of an off VM: %v %q %v", ok, detail, err)
	}
	if err := h.StartVM(ctx, "db01-test"); err != nil {
		t.Fatal(err)
	}
	c, err = h.CheckVM(ctx, "db01-test", []int{1433}, time.Second)
	if err != nil || c.State != hyperv.StateRunning {
		t.Fatalf("check of a running VM: %+v %v", c, err)
	}
	if ok, _, err := h.Heartbeat(ctx, "db01-test"); err != nil || !ok {
		t.Fatalf("heartbeat of a running VM: %v %v", ok, err)
	}
	if len(c.Switches) != 1 || c.Switches[0].Name != "failback-test" || c.Switches[0].Type != hyperv.SwitchPrivate {
		t.Fatalf("switches: %+v", c.Switches)
	}
	if len(c.Ports) != 1 || c.Ports[0].Port != 1433 || c.Ports[0].Open || c.Ports[0].Detail == "" {
		t.Fatalf("port on a private switch: %+v", c.Ports)
	}
	_, err = h.CheckVM(ctx, "no such vm", nil, time.Second)
	wantKind(t, err, hyperv.ErrVMNotFound)
}

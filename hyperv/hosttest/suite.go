// Package hosttest is the behaviour suite every hyperv.Host implementation
// must pass, so that the lab host used by drills and tests behaves as a
// real Hyper-V host does through PowerShell.
package hosttest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/hyperv"
)

// Fixture is a fresh host and what the suite needs to know about it.
type Fixture struct {
	Host hyperv.Host
	// Switch names a virtual switch the host has.
	Switch string
	// DiskPath returns a host path for a disk file that does not exist yet;
	// name has no extension (the fixture picks the format).
	DiskPath func(name string) string
	// Generation is the VM generation to create (2 needs VHDX disks).
	Generation int
	// Controller is the controller type for disks (SCSI; IDE for generation 1).
	Controller hyperv.ControllerType
	// RemoveFile deletes a file on the host behind its back.
	RemoveFile func(hostPath string) error
}

// RunHostSuite runs the shared behaviour tests; newHost must return a new,
// empty host (with Switch) for each call.
func RunHostSuite(t *testing.T, newHost func(t *testing.T) Fixture) {
	tests := []struct {
		name string
		run  func(t *testing.T, f Fixture)
	}{
		{"NameAndDescribe", testNames},
		{"ListSwitches", testListSwitches},
		{"GetVMNotFound", testGetVMNotFound},
		{"CreateAndGet", testCreateAndGet},
		{"CreateRefusesExistingName", testCreateExisting},
		{"CreateRefusesMissingSwitchAndLeavesNothing", testCreateMissingSwitch},
		{"CreateNeverOverwritesADiskFile", testCreateDiskExists},
		{"CreateAttachesExistingDisk", testCreateExistingDisk},
		{"StartShutdownAndDiskInUse", testLifecycle},
		{"StartRefusesMissingDisk", testStartMissingDisk},
		{"AttachDisk", testAttachDisk},
		{"FreeSpace", testFreeSpace},
		{"CheckAlternate", testCheckAlternate},
		{"EnsureVM", testEnsureVM},
		{"CancelledContext", testCancelled},
		{"CreateReproducesTheShape", testShape},
		{"InfoAndDiscardSavedState", testInfoAndDiscard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newHost(t)) })
	}
}

const mib = 1 << 20

// spec is a small VM with n disks of 64 MiB (the first dynamic, the
// others fixed).
func spec(f Fixture, name string, n int) hyperv.VMSpec {
	s := hyperv.VMSpec{Name: name, Generation: f.Generation, CPUCount: 2, MemoryBytes: 512 * mib, SwitchName: f.Switch}
	for i := range n {
		s.Disks = append(s.Disks, hyperv.DiskSpec{
			HostPath:    f.DiskPath(name + "-disk" + string(rune('0'+i))),
			VirtualSize: 64 * mib,
			Fixed:       i > 0,
			Controller:  hyperv.Controller{Type: f.Controller, Location: i},
		})
	}
	return s
}

func mustCreate(t *testing.T, f Fixture, s hyperv.VMSpec) hyperv.VM {
	t.Helper()
	vm, err := f.Host.CreateVM(context.Background(), s)
	if err != nil {
		t.Fatalf("CreateVM(%s): %v", s.Name, err)
	}
	return vm
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got error %v, want one wrapping %v", err, kind)
	}
	if !strings.Contains(err.Error(), kind.Error()) {
		t.Fatalf("message %q does not name the problem", err)
	}
}

func testNames(t *testing.T, f Fixture) {
	if f.Host.Name() == "" || f.Host.Describe() == "" {
		t.Fatalf("Name %q Describe %q", f.Host.Name(), f.Host.Describe())
	}
}

func testListSwitches(t *testing.T, f Fixture) {
	sw, err := f.Host.ListSwitches(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sw {
		if s.Name == f.Switch && s.Type != "" {
			return
		}
	}
	t.Fatalf("switch %q not among %+v", f.Switch, sw)
}

func testGetVMNotFound(t *testing.T, f Fixture) {
	_, err := f.Host.GetVM(context.Background(), "no such vm")
	wantKind(t, err, hyperv.ErrVMNotFound)
}

func checkVM(t *testing.T, vm hyperv.VM, s hyperv.VMSpec) {
	t.Helper()
	if vm.Name != s.Name || vm.Generation != s.Generation || vm.CPUCount != s.CPUCount || vm.MemoryBytes != s.MemoryBytes || vm.State != hyperv.StateOff {
		t.Fatalf("VM %+v does not match spec %+v", vm, s)
	}
	if len(vm.Adapters) != 1 || vm.Adapters[0].SwitchName != s.SwitchName {
		t.Fatalf("adapters %+v, want one on %q", vm.Adapters, s.SwitchName)
	}
	if len(vm.Disks) != len(s.Disks) {
		t.Fatalf("%d disks, want %d", len(vm.Disks), len(s.Disks))
	}
	for i, d := range vm.Disks {
		w := s.Disks[i]
		if d.HostPath != w.HostPath || d.Controller != w.Controller || d.VirtualSize != w.VirtualSize || d.Fixed != w.Fixed || d.Problem != "" {
			t.Fatalf("disk %d: %+v, want %+v", i, d, w)
		}
	}
}

func testCreateAndGet(t *testing.T, f Fixture) {
	s := spec(f, "web01", 2)
	vm := mustCreate(t, f, s)
	checkVM(t, vm, s)
	got, err := f.Host.GetVM(context.Background(), "web01")
	if err != nil {
		t.Fatal(err)
	}
	checkVM(t, got, s)
}

func testCreateExisting(t *testing.T, f Fixture) {
	mustCreate(t, f, spec(f, "web01", 1))
	s := spec(f, "web01", 0)
	_, err := f.Host.CreateVM(context.Background(), s)
	wantKind(t, err, hyperv.ErrVMExists)
}

func testCreateMissingSwitch(t *testing.T, f Fixture) {
	ctx := context.Background()
	s := spec(f, "web01", 1)
	s.SwitchName = "No Such Switch"
	_, err := f.Host.CreateVM(ctx, s)
	wantKind(t, err, hyperv.ErrSwitchNotFound)
	if _, err := f.Host.GetVM(ctx, "web01"); !errors.Is(err, hyperv.ErrVMNotFound) {
		t.Fatalf("the VM exists after a failed create: %v", err)
	}
	u, err := f.Host.DiskInUse(ctx, s.Disks[0].HostPath)
	if err != nil || u.Exists {
		t.Fatalf("a disk was created before the switch check: %+v %v", u, err)
	}
}

func testCreateDiskExists(t *testing.T, f Fixture) {
	ctx := context.Background()
	a := mustCreate(t, f, spec(f, "web01", 1))
	b := spec(f, "web02", 0)
	b.Disks = []hyperv.DiskSpec{{HostPath: a.Disks[0].HostPath, VirtualSize: 64 * mib, Controller: hyperv.Controller{Type: f.Controller}}}
	_, err := f.Host.CreateVM(ctx, b)
	wantKind(t, err, hyperv.ErrDiskExists)
	if _, err := f.Host.GetVM(ctx, "web02"); !errors.Is(err, hyperv.ErrVMNotFound) {
		t.Fatalf("web02 exists after a refused create: %v", err)
	}
}

func testCreateExistingDisk(t *testing.T, f Fixture) {
	a := mustCreate(t, f, spec(f, "web01", 1))
	b := spec(f, "web02", 0)
	b.Disks = []hyperv.DiskSpec{{HostPath: a.Disks[0].HostPath, Existing: true, Controller: hyperv.Controller{Type: f.Controller}}}
	vm := mustCreate(t, f, b)
	if len(vm.Disks) != 1 || vm.Disks[0].VirtualSize != 64*mib {
		t.Fatalf("attached existing disk: %+v", vm.Disks)
	}
	missing := spec(f, "web03", 0)
	missing.Disks = []hyperv.DiskSpec{{HostPath: f.DiskPath("nothing-here"), Existing: true, Controller: hyperv.Controller{Type: f.Controller}}}
	_, err := f.Host.CreateVM(context.Background(), missing)
	wantKind(t, err, hyperv.ErrDiskNotFound)
}

func testLifecycle(t *testing.T, f Fixture) {
	ctx := context.Background()
	vm := mustCreate(t, f, spec(f, "web01", 2))
	disk := vm.Disks[1].HostPath
	if u, err := f.Host.DiskInUse(ctx, disk); err != nil || u.InUse || !u.Exists {
		t.Fatalf("disk of an off VM: %+v %v", u, err)
	}
	if err := f.Host.StartVM(ctx, "web01"); err != nil {
		t.Fatal(err)
	}
	got, err := f.Host.GetVM(ctx, "web01")
	if err != nil || got.State != hyperv.StateRunning {
		t.Fatalf("after start: %v %v", got.State, err)
	}
	u, err := f.Host.DiskInUse(ctx, disk)
	if err != nil || !u.InUse || len(u.VMs) != 1 || u.VMs[0] != "web01" || u.Reason == "" {
		t.Fatalf("disk of a running VM: %+v %v", u, err)
	}
	if err := f.Host.StartVM(ctx, "web01"); err != nil {
		t.Fatalf("starting a running VM: %v", err)
	}
	forced, err := f.Host.ShutdownVM(ctx, "web01", 30*time.Second)
	if err != nil || forced {
		t.Fatalf("shutdown: forced %v, %v", forced, err)
	}
	got, err = f.Host.GetVM(ctx, "web01")
	if err != nil || got.State != hyperv.StateOff {
		t.Fatalf("after shutdown: %v %v", got.State, err)
	}
	if u, err := f.Host.DiskInUse(ctx, disk); err != nil || u.InUse {
		t.Fatalf("disk after shutdown: %+v %v", u, err)
	}
	if forced, err := f.Host.ShutdownVM(ctx, "web01", time.Second); err != nil || forced {
		t.Fatalf("shutting down an off VM: %v %v", forced, err)
	}
	_, err = f.Host.ShutdownVM(ctx, "no such vm", time.Second)
	wantKind(t, err, hyperv.ErrVMNotFound)
}

func testStartMissingDisk(t *testing.T, f Fixture) {
	ctx := context.Background()
	vm := mustCreate(t, f, spec(f, "web01", 2))
	if err := f.RemoveFile(vm.Disks[1].HostPath); err != nil {
		t.Fatal(err)
	}
	err := f.Host.StartVM(ctx, "web01")
	wantKind(t, err, hyperv.ErrDiskNotFound)
	if got, err := f.Host.GetVM(ctx, "web01"); err != nil || got.State != hyperv.StateOff {
		t.Fatalf("after a refused start: %v %v", got.State, err)
	}
	if u, err := f.Host.DiskInUse(ctx, vm.Disks[0].HostPath); err != nil || u.InUse {
		t.Fatalf("a refused start left a disk in use: %+v %v", u, err)
	}
}

func testAttachDisk(t *testing.T, f Fixture) {
	ctx := context.Background()
	donor := mustCreate(t, f, spec(f, "donor", 1))
	mustCreate(t, f, spec(f, "web01", 1))
	d := hyperv.DiskSpec{HostPath: donor.Disks[0].HostPath, Controller: hyperv.Controller{Type: f.Controller, Location: 1}}
	if err := f.Host.AttachDisk(ctx, "web01", d); err != nil {
		t.Fatal(err)
	}
	vm, err := f.Host.GetVM(ctx, "web01")
	if err != nil || len(vm.Disks) != 2 || vm.Disks[1].HostPath != d.HostPath || vm.Disks[1].Location != 1 || vm.Disks[1].VirtualSize != 64*mib {
		t.Fatalf("after attach: %+v %v", vm.Disks, err)
	}
	err = f.Host.AttachDisk(ctx, "web01", hyperv.DiskSpec{HostPath: f.DiskPath("nothing-here"), Controller: hyperv.Controller{Type: f.Controller, Number: 1}})
	wantKind(t, err, hyperv.ErrDiskNotFound)
	err = f.Host.AttachDisk(ctx, "no such vm", d)
	wantKind(t, err, hyperv.ErrVMNotFound)
}

func testFreeSpace(t *testing.T, f Fixture) {
	p := f.DiskPath("x")
	i := strings.LastIndexAny(p, `\/`)
	notYet := p[:i+1] + "not-yet" // a folder that does not exist yet
	s, err := f.Host.FreeSpace(context.Background(), notYet)
	if err != nil || s.Free <= 0 || s.Total < s.Free || s.Volume == "" {
		t.Fatalf("free space: %+v %v", s, err)
	}
}

func testCheckAlternate(t *testing.T, f Fixture) {
	ctx := context.Background()
	s := spec(f, "web01", 2)
	rep, err := hyperv.CheckAlternate(ctx, f.Host, s, hyperv.CheckOptions{})
	if err != nil || !rep.OK() || !rep.SwitchFound || rep.VMExists || len(rep.Disks) != 2 || rep.Disks[0].Bytes != 64*mib {
		t.Fatalf("good location: %+v %v", rep, err)
	}
	s.SwitchName = "Missing Switch"
	rep, err = hyperv.CheckAlternate(ctx, f.Host, s, hyperv.CheckOptions{})
	if !errors.Is(err, hyperv.ErrSwitchNotFound) || rep.OK() || !strings.Contains(err.Error(), "New-VMSwitch -Name 'Missing Switch'") {
		t.Fatalf("missing switch: %v", err)
	}
	if u, err := f.Host.DiskInUse(ctx, s.Disks[0].HostPath); err != nil || u.Exists {
		t.Fatalf("the check wrote a disk: %+v %v", u, err)
	}
}

func testEnsureVM(t *testing.T, f Fixture) {
	ctx := context.Background()
	s := spec(f, "web01", 1)
	_, created, err := hyperv.EnsureVM(ctx, f.Host, s, false)
	wantKind(t, err, hyperv.ErrVMNotFound)
	if created || !strings.Contains(err.Error(), "create the on-premises VM if it does not exist") {
		t.Fatalf("without create: %v", err)
	}
	vm, created, err := hyperv.EnsureVM(ctx, f.Host, s, true)
	if err != nil || !created {
		t.Fatalf("with create: %v %v", created, err)
	}
	checkVM(t, vm, s)
	vm, created, err = hyperv.EnsureVM(ctx, f.Host, s, true)
	if err != nil || created || vm.Name != "web01" {
		t.Fatalf("second time: %v %v", created, err)
	}
}

func testCancelled(t *testing.T, f Fixture) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Host.GetVM(ctx, "web01"); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetVM with a cancelled context: %v", err)
	}
	if _, err := f.Host.CreateVM(ctx, spec(f, "web01", 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateVM with a cancelled context: %v", err)
	}
}

// testShape: two adapters (a static MAC and an access VLAN, a trunk),
// dynamic memory with its bounds and Secure Boot come back from GetVM.
func testShape(t *testing.T, f Fixture) {
	s := spec(f, "fw01", 1)
	s.SwitchName = ""
	s.Adapters = []hyperv.AdapterSpec{
		{Name: "LAN", SwitchName: f.Switch, MAC: "00-15-5D-0A-1B-40", VLAN: hyperv.VLAN{Mode: "Access", AccessID: 20}},
		{Name: "Trunk", SwitchName: f.Switch, VLAN: hyperv.VLAN{Mode: "Trunk", NativeID: 1, Allowed: "100,200"}},
	}
	s.DynamicMemory, s.MemoryMinimum, s.MemoryMaximum = true, 256*mib, 2048*mib
	if f.Generation == 2 {
		s.SecureBoot, s.SecureBootTemplate = "Off", "MicrosoftUEFICertificateAuthority"
	}
	mustCreate(t, f, s)
	vm, err := f.Host.GetVM(context.Background(), "fw01")
	if err != nil {
		t.Fatal(err)
	}
	if len(vm.Adapters) != 2 {
		t.Fatalf("adapters %+v", vm.Adapters)
	}
	a, b := vm.Adapters[0], vm.Adapters[1]
	if a.Name != "LAN" || a.MAC != "00155D0A1B40" || !a.StaticMAC || a.VLAN != s.Adapters[0].VLAN || b.StaticMAC || b.VLAN != s.Adapters[1].VLAN {
		t.Fatalf("adapters %+v, want %+v", vm.Adapters, s.Adapters)
	}
	if !vm.DynamicMemory || vm.MemoryMinimum != s.MemoryMinimum || vm.MemoryMaximum != s.MemoryMaximum ||
		vm.SecureBoot != s.SecureBoot || vm.SecureBootTemplate != s.SecureBootTemplate {
		t.Fatalf("memory or firmware %+v", vm)
	}
}

// testInfoAndDiscard: the host names itself; discarding the state of an
// Off VM changes nothing, of a running one is refused.
func testInfoAndDiscard(t *testing.T, f Fixture) {
	ctx := context.Background()
	info, err := f.Host.Info(ctx)
	if err != nil || info.Computer == "" {
		t.Fatalf("info %+v %v", info, err)
	}
	mustCreate(t, f, spec(f, "web01", 1))
	if err := f.Host.DiscardSavedState(ctx, "web01"); err != nil {
		t.Fatalf("an Off VM: %v", err)
	}
	if err := f.Host.StartVM(ctx, "web01"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.Host.DiscardSavedState(ctx, "web01"), hyperv.ErrBadState)
	wantKind(t, f.Host.DiscardSavedState(ctx, "no such vm"), hyperv.ErrVMNotFound)
}

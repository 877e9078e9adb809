package hyperv

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

func TestPSHostGetVMParsesWindowsPowerShellOutput(t *testing.T) {
	h, _ := replayHost(t, step{golden: "get-vm-web01", output: "get-vm-web01"})
	vm, err := h.GetVM(ctx, "web01")
	if err != nil {
		t.Fatal(err)
	}
	if vm.Name != "web01" || vm.State != StateRunning || vm.Generation != 2 || vm.CPUCount != 4 ||
		vm.MemoryBytes != 8<<30 || vm.ID != "5c3f9a7e-2b1d-4e8a-9f0c-7d6e5b4a3c21" {
		t.Fatalf("VM: %+v", vm)
	}
	if !vm.Created.Equal(time.UnixMilli(1717579845123)) {
		t.Errorf("CreationTime /Date()/ parsed as %v", vm.Created)
	}
	if len(vm.Disks) != 2 || len(vm.Adapters) != 1 {
		t.Fatalf("disks %d adapters %d", len(vm.Disks), len(vm.Adapters))
	}
	d := vm.Disks[0]
	if d.HostPath != `D:\Hyper-V\web01\Virtual Hard Disks\web01.vhdx` || d.Type != SCSI || d.Number != 0 || d.Location != 0 ||
		d.VirtualSize != 136365211648 || d.FileSize != 23756537856 || d.Format != "VHDX" || d.Fixed {
		t.Errorf("disk 0: %+v", d)
	}
	if d := vm.Disks[1]; d.Location != 1 || !d.Fixed {
		t.Errorf("disk 1: %+v", d)
	}
	if a := vm.Adapters[0]; a.SwitchName != "LAN" || a.MAC != "00155D0A1B2C" {
		t.Errorf("adapter: %+v", a)
	}
}

func TestPSHostGetVMParsesPowerShell7Output(t *testing.T) {
	h, _ := replayHost(t, step{golden: "get-vm-db01", output: "get-vm-db01-pwsh7"})
	vm, err := h.GetVM(ctx, "db01")
	if err != nil {
		t.Fatal(err)
	}
	if vm.State != StateOff || vm.Generation != 1 || !vm.DynamicMemory || vm.ID != "9e1d0c2b-7a44-4f0e-b1c3-2d8e6f5a4b10" {
		t.Fatalf("VM: %+v", vm)
	}
	if want := time.Date(2024, 3, 11, 8, 14, 2, 551234500, time.UTC); !vm.Created.Equal(want) {
		t.Errorf("ISO CreationTime parsed as %v", vm.Created)
	}
	if d := vm.Disks[0]; d.Type != IDE || d.Format != "VHD" || !d.Fixed || d.VirtualSize != 40<<30 {
		t.Errorf("IDE disk: %+v", d)
	}
	if d := vm.Disks[1]; d.VirtualSize != 0 || !strings.Contains(d.Problem, "cannot find the file") {
		t.Errorf("a disk the host cannot read must carry the problem: %+v", d)
	}
	if len(vm.Adapters) != 2 || vm.Adapters[1].SwitchName != "" {
		t.Errorf("adapters: %+v", vm.Adapters)
	}
}

// TestPSHostGetVMToleratesConvertToJsonQuirks: enums as names, a list
// wrapped as {"value":..,"Count":..} and a one-element list as an object.
func TestPSHostGetVMToleratesConvertToJsonQuirks(t *testing.T) {
	h, _ := replayHost(t, step{golden: "get-vm-app01", output: "get-vm-app01-quirks"})
	vm, err := h.GetVM(ctx, "app01 été")
	if err != nil {
		t.Fatal(err)
	}
	if vm.Name != "app01 été" || vm.State != StateSaved {
		t.Fatalf("name/state: %q %q", vm.Name, vm.State)
	}
	if len(vm.Disks) != 1 || vm.Disks[0].Type != SCSI || vm.Disks[0].Format != "VHDX" || vm.Disks[0].Fixed {
		t.Errorf("wrapped list: %+v", vm.Disks)
	}
	if len(vm.Adapters) != 1 || vm.Adapters[0].SwitchName != "LAN" {
		t.Errorf("single object as list: %+v", vm.Adapters)
	}
}

func TestPSHostErrorsAreTyped(t *testing.T) {
	cases := []struct {
		output string
		kind   error
		hint   string
	}{
		{"error-vm-not-found", ErrVMNotFound, "Get-VM"},
		{"error-module-missing", ErrModuleMissing, "Install-WindowsFeature -Name Hyper-V-PowerShell"},
		{"error-module-import", ErrModuleMissing, "Install-WindowsFeature"},
		{"error-access-denied", ErrAccessDenied, "Hyper-V Administrators"},
		{"error-start-out-of-memory", ErrHostFailed, "OutOfMemory,Microsoft.HyperV.PowerShell.Commands.StartVM"},
	}
	for _, c := range cases {
		t.Run(c.output, func(t *testing.T) {
			h, _ := replayHost(t, step{golden: "get-vm-web99", output: c.output})
			_, err := h.GetVM(ctx, "web99")
			if !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.hint) || !strings.HasPrefix(err.Error(), "hv01.example.com: get VM 'web99': ") {
				t.Errorf("message %q lacks %q", err, c.hint)
			}
			for _, other := range []error{ErrVMNotFound, ErrModuleMissing, ErrAccessDenied, ErrHostFailed} {
				if other != c.kind && errors.Is(err, other) {
					t.Errorf("also matches %v", other)
				}
			}
		})
	}
}

func TestPSHostListSwitches(t *testing.T) {
	h, _ := replayHost(t, step{golden: "list-switches", output: "list-switches"}, step{golden: "list-switches", output: "list-switches-none"})
	sw, err := h.ListSwitches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Switch{{"LAN", SwitchExternal, "Intel(R) Ethernet Controller X710 for 10GbE SFP+"}, {"Internal", SwitchInternal, ""}, {"Isolated", SwitchPrivate, ""}}
	if len(sw) != 3 || sw[0] != want[0] || sw[1] != want[1] || sw[2] != want[2] {
		t.Fatalf("switches: %+v", sw)
	}
	sw, err = h.ListSwitches(ctx)
	if err != nil || len(sw) != 0 {
		t.Fatalf("no switches: %v %v", sw, err)
	}
}

func createSpec() VMSpec {
	return VMSpec{
		Name: "web01's copy", Generation: 2, CPUCount: 4, MemoryBytes: 8 << 30, SwitchName: "LAN", Folder: `E:\Failback`,
		Disks: []DiskSpec{
			{HostPath: `E:\Failback\web01\web01.vhdx`, VirtualSize: 136365211648, Controller: Controller{Type: SCSI}},
			{HostPath: `E:\Failback\web01\web01-data.vhdx`, VirtualSize: 100 << 30, Fixed: true, Controller: Controller{Type: SCSI, Location: 1}},
		},
	}
}

func TestPSHostCreateVM(t *testing.T) {
	h, _ := replayHost(t, step{golden: "create-vm-web01", output: "create-vm-web01"})
	vm, err := h.CreateVM(ctx, createSpec())
	if err != nil {
		t.Fatal(err)
	}
	if vm.Name != "web01's copy" || vm.State != StateOff || len(vm.Disks) != 2 || vm.Disks[1].VirtualSize != 100<<30 || vm.Adapters[0].SwitchName != "LAN" {
		t.Fatalf("created VM: %+v", vm)
	}
}

func TestPSHostCreateVMErrors(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "create-vm-web01", output: "error-switch-not-found"},
		step{golden: "create-vm-web01", output: "error-access-denied-newvm"},
	)
	_, err := h.CreateVM(ctx, createSpec())
	if !errors.Is(err, ErrSwitchNotFound) || !strings.Contains(err.Error(), "New-VMSwitch -Name 'LAN'") {
		t.Fatalf("switch missing: %v", err)
	}
	_, err = h.CreateVM(ctx, createSpec())
	var he *HostError
	if !errors.Is(err, ErrAccessDenied) || !errors.As(err, &he) || he.PSErrorID != "AccessDenied,Microsoft.HyperV.PowerShell.Commands.NewVM" {
		t.Fatalf("access denied from New-VM: %v", err)
	}
	// A bad spec is refused before any script runs (the replay would fail).
	bad := createSpec()
	bad.Disks[0].HostPath = "relative.vhdx"
	if _, err := h.CreateVM(ctx, bad); err == nil {
		t.Fatal("a relative disk path was accepted")
	}
	bad = createSpec()
	bad.Generation = 3
	if _, err := h.CreateVM(ctx, bad); err == nil || !strings.Contains(err.Error(), "generation") {
		t.Fatalf("generation 3: %v", err)
	}
}

func TestPSHostAttachStartStop(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "attach-disk", output: "attach-disk"},
		step{golden: "start-vm", output: "start-vm"},
		step{golden: "start-vm", output: "error-start-out-of-memory"},
		step{golden: "stop-vm", output: "stop-vm-graceful"},
		step{golden: "stop-vm", output: "stop-vm-forced"},
	)
	err := h.AttachDisk(ctx, "web01", DiskSpec{HostPath: `E:\Data\web01-data.vhdx`, Controller: Controller{Type: SCSI, Number: 1, Location: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.StartVM(ctx, "web01"); err != nil {
		t.Fatal(err)
	}
	if err := h.StartVM(ctx, "web01"); !errors.Is(err, ErrHostFailed) || !strings.Contains(err.Error(), "Not enough memory") {
		t.Fatalf("start failure: %v", err)
	}
	forced, err := h.ShutdownVM(ctx, "web01", 90*time.Second)
	if err != nil || forced {
		t.Fatalf("graceful: %v %v", forced, err)
	}
	forced, err = h.ShutdownVM(ctx, "web01", 90*time.Second)
	if err != nil || !forced {
		t.Fatalf("forced: %v %v", forced, err)
	}
}

func TestPSHostDiskInUseAndFreeSpace(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "disk-in-use-web01", output: "disk-in-use-running"},
		step{golden: "disk-in-use-data", output: "disk-in-use-free"},
		step{golden: "free-space", output: "free-space"},
	)
	u, err := h.DiskInUse(ctx, `D:\Hyper-V\web01\Virtual Hard Disks\web01.vhdx`)
	if err != nil || !u.InUse || !u.Locked || len(u.VMs) != 1 || u.VMs[0] != "web01" || !strings.Contains(u.Reason, "being used by another process") {
		t.Fatalf("in use: %+v %v", u, err)
	}
	u, err = h.DiskInUse(ctx, `E:\Data\web01-data.vhdx`)
	if err != nil || u.InUse || !u.Exists {
		t.Fatalf("free: %+v %v", u, err)
	}
	s, err := h.FreeSpace(ctx, `E:\Failback\web01`)
	if err != nil || s.Free != 412316860416 || s.Total != 1<<40 || s.Volume != `\\?\Volume{1b2c3d4e-0000-0000-0000-100000000000}\` {
		t.Fatalf("free space: %+v %v", s, err)
	}
}

// TestPSHostOutputWithoutEnvelope covers what arrives when PowerShell never
// ran our script, or printed something besides it.
func TestPSHostOutputWithoutEnvelope(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "get-vm-web01", stdout: "Loading personal and system profiles took 812ms.\r\n" + `{"ok":{"Name":"web01","State":3,"StateName":"Off","Generation":1,"HardDrives":[],"NetworkAdapters":[]}}` + "\r\n"},
		step{golden: "get-vm-web01", stderr: "'powershell' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", exit: 1},
		step{golden: "get-vm-web01", stderr: `#< CLIXML` + "\r\n" + `<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">Program 'powershell.exe' failed to run: The paging file is too small_x000D__x000A_</S></Objs>`, exit: 1},
		step{golden: "get-vm-web01", err: newHostError(ErrUnreachable, "", "", "connection refused")},
	)
	vm, err := h.GetVM(ctx, "web01")
	if err != nil || vm.State != StateOff {
		t.Fatalf("noise before the result: %+v %v", vm, err)
	}
	_, err = h.GetVM(ctx, "web01")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "powershell.exe on its PATH") {
		t.Fatalf("no PowerShell: %v", err)
	}
	_, err = h.GetVM(ctx, "web01")
	if !errors.Is(err, ErrHostFailed) || !strings.Contains(err.Error(), "paging file is too small") || strings.Contains(err.Error(), "<Objs") {
		t.Fatalf("CLIXML: %v", err)
	}
	_, err = h.GetVM(ctx, "web01")
	if !errors.Is(err, ErrUnreachable) || !strings.HasPrefix(err.Error(), "hv01.example.com: get VM 'web01'") {
		t.Fatalf("runner error: %v", err)
	}
}

// TestGoldenScriptsAreSelfContained checks every golden script against
// its own rules: a header, arguments that parse, and no argument text
// anywhere but in the argument block.
func TestGoldenScriptsAreSelfContained(t *testing.T) {
	script := buildScript("get-vm", []psParam{strParam("Name", "x'; Stop-Computer; '")})
	_, args, err := parseScript(script)
	if err != nil || args["Name"] != "x'; Stop-Computer; '" {
		t.Fatalf("%v %v", args, err)
	}
	for _, must := range []string{"$ErrorActionPreference = 'Stop'", "Remove-TypeData -TypeName System.Array -ErrorAction Stop", "} catch {\n    Write-FailbackError $_\n}\n"} {
		if !strings.Contains(script, must) {
			t.Errorf("script lacks %q", must)
		}
	}
	if strings.Count(script, "Stop-Computer") != 1 {
		t.Error("the argument appears outside its literal")
	}
}

// A NUL in a name or path cannot reach PowerShell: psQuote would drop it
// and "web\x0001" would act on the VM "web01". Such a call is refused and
// nothing runs on the host (the replay runner expects no script).
func TestNULNamesAreRefusedBeforeAnythingRuns(t *testing.T) {
	h, _ := replayHost(t)
	ctx := context.Background()
	errs := []error{}
	_, err := h.GetVM(ctx, "web\x0001")
	errs = append(errs, err)
	errs = append(errs, h.StartVM(ctx, "web\x0001"))
	_, err = h.ShutdownVM(ctx, "web\x0001", time.Second)
	errs = append(errs, err)
	_, err = h.DiskInUse(ctx, "D:\\VMs\\web\x0001.vhdx")
	errs = append(errs, err)
	_, err = h.CreateVM(ctx, VMSpec{Name: "web01", Generation: 2, CPUCount: 2, MemoryBytes: 2 << 30, SwitchName: "LAN",
		Disks: []DiskSpec{{HostPath: "D:\\VMs\\web\x0001.vhdx", VirtualSize: 1 << 30, Controller: Controller{Type: SCSI}}}})
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("call %d: %v", i, err)
		}
	}
}

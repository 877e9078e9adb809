package hyperv

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The cases admins meet on real hosts, each a golden script and a recorded
// output in the shape Windows PowerShell 5.1 prints.

func TestPSHostVMWithCheckpoints(t *testing.T) {
	h, _ := replayHost(t, step{golden: "get-vm-web02", output: "get-vm-web02-checkpoints"})
	vm, err := h.GetVM(ctx, "web02")
	if err != nil {
		t.Fatal(err)
	}
	if len(vm.Checkpoints) != 2 || vm.Checkpoints[0].Name != "before patching" || vm.Checkpoints[1].Type != "Standard" ||
		!vm.Checkpoints[0].Created.Equal(time.UnixMilli(1712000000000)) {
		t.Fatalf("checkpoints: %+v", vm.Checkpoints)
	}
	d := vm.Disks[0]
	if !strings.HasSuffix(d.HostPath, ".avhdx") || d.ParentPath != `D:\Hyper-V\web02\Virtual Hard Disks\web02.vhdx` {
		t.Fatalf("the VM runs from a differencing disk whose parent is the configured image: %+v", d)
	}
	if len(vm.DVDDrives) != 1 || vm.DVDDrives[0] != (Controller{Type: SCSI, Location: 2}) {
		t.Errorf("DVD drives: %+v", vm.DVDDrives)
	}
}

func TestPSHostSavedVMAndDiscardingItsState(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "get-vm-app02", output: "get-vm-app02-saved"},
		step{golden: "discard-saved-state-app02", output: "discard-saved-state"},
	)
	vm, err := h.GetVM(ctx, "app02")
	if err != nil || vm.State != StateSaved {
		t.Fatalf("saved VM: %v %v", vm.State, err)
	}
	if err := h.DiscardSavedState(ctx, "app02"); err != nil {
		t.Fatal(err)
	}
}

func TestPSHostClusteredVM(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "host-info", output: "host-info-cluster"},
		step{golden: "get-vm-sql01", output: "error-vm-on-other-node"},
		step{golden: "get-vm-sql01", output: "get-vm-sql01-clustered"},
	)
	info, err := h.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster != "HVCLUSTER" || len(info.Nodes) != 2 || !info.OnCSV(`c:\clusterstorage\volume1\sql01\sql01-os.vhdx`) ||
		info.OnCSV(`C:\ClusterStorage\Volume10\x.vhdx`) || !strings.HasPrefix(info.SiteRecovery, "Microsoft Azure Site Recovery Provider") {
		t.Fatalf("host info: %+v", info)
	}
	_, err = h.GetVM(ctx, "sql01")
	var he *HostError
	if !errors.Is(err, ErrVMOnOtherNode) || !errors.As(err, &he) || he.Target != "HV02" || !strings.Contains(err.Error(), "owned by node HV02") ||
		errors.Is(err, ErrVMNotFound) {
		t.Fatalf("VM on another node: %v", err)
	}
	vm, err := h.GetVM(ctx, "sql01")
	if err != nil {
		t.Fatal(err)
	}
	if !vm.Clustered || vm.Node != "HV02" || vm.Replication == nil || vm.Replication.Mode != "Primary" || vm.Replication.ReplicaServer != "hvdr01.example.com" {
		t.Fatalf("clustered, replicated VM: %+v %+v", vm, vm.Replication)
	}
}

func TestPSHostTwoNICsWithVLANsRecreated(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "get-vm-fw01", output: "get-vm-fw01-nics"},
		step{golden: "create-vm-fw01", output: "create-vm-fw01"},
	)
	orig, err := h.GetVM(ctx, "fw01")
	if err != nil {
		t.Fatal(err)
	}
	lan, dmz := orig.Adapters[0], orig.Adapters[1]
	if !lan.StaticMAC || lan.VLAN != (VLAN{Mode: "Access", AccessID: 20}) || dmz.StaticMAC ||
		dmz.VLAN != (VLAN{Mode: "Trunk", NativeID: 1, Allowed: "100,200,201,202"}) {
		t.Fatalf("adapters: %+v", orig.Adapters)
	}
	if !orig.DynamicMemory || orig.MemoryMinimum != 1<<30 || orig.MemoryMaximum != 4<<30 || orig.SecureBoot != "Off" ||
		orig.SecureBootTemplate != "MicrosoftUEFICertificateAuthority" {
		t.Fatalf("memory and firmware: %+v", orig)
	}
	spec := SpecFromVM(orig)
	spec.Folder = `E:\Failback`
	spec.Adapters[1].SwitchName = "DMZ-B" // mapped: the alternate host has no switch DMZ
	spec.Disks[0].HostPath = `E:\Failback\fw01\fw01.vhdx`
	vm, err := h.CreateVM(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(vm.Adapters) != 2 || vm.Adapters[0].MAC != "00155D0A1B40" || vm.Adapters[1].SwitchName != "DMZ-B" || vm.Adapters[1].VLAN.Mode != "Trunk" {
		t.Fatalf("created: %+v", vm.Adapters)
	}
}

func TestPSHostGeneration1WithThreeDisksRecreated(t *testing.T) {
	h, _ := replayHost(t,
		step{golden: "get-vm-legacy01", output: "get-vm-legacy01-gen1"},
		step{golden: "create-vm-legacy01", output: "create-vm-legacy01"},
	)
	orig, err := h.GetVM(ctx, "legacy01")
	if err != nil {
		t.Fatal(err)
	}
	if len(orig.Disks) != 3 || orig.Disks[2].Controller != (Controller{Type: IDE, Number: 1, Location: 1}) ||
		len(orig.DVDDrives) != 1 || orig.DVDDrives[0] != defaultDVD {
		t.Fatalf("generation 1 layout: %+v %+v", orig.Disks, orig.DVDDrives)
	}
	spec := SpecFromVM(orig)
	spec.Folder = `E:\Failback`
	for i, name := range []string{"legacy01-os", "legacy01-data", "legacy01-logs"} {
		spec.Disks[i].HostPath = `E:\Failback\legacy01\` + name + ".vhdx"
	}
	vm, err := h.CreateVM(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(vm.Disks) != 3 || vm.Disks[2].Controller != orig.Disks[2].Controller || len(vm.DVDDrives) != 1 {
		t.Fatalf("created: %+v", vm)
	}
	// The slot New-VM's DVD drive takes is refused before anything runs.
	bad := spec
	bad.Disks = append([]DiskSpec(nil), spec.Disks...)
	bad.Disks[2].Controller = defaultDVD
	_, err = h.CreateVM(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "IDE 1:0 holds the VM's DVD drive") {
		t.Fatalf("a disk at IDE 1:0: %v", err)
	}
	bad.DVDDrives = nil // New-VM's default is the same drive
	if _, err := h.CreateVM(ctx, bad); err == nil {
		t.Fatal("a disk at IDE 1:0 with the default DVD drive was accepted")
	}
}

func TestSpecFromVMLeavesPrivateVLANsToTheOperator(t *testing.T) {
	vm := VM{Name: "pv01", Generation: 2, CPUCount: 1, MemoryBytes: 1 << 30,
		Adapters: []Adapter{{Name: "A", SwitchName: "LAN", VLAN: VLAN{Mode: "Private", Private: "Isolated primary 10 secondary 200"}}}}
	s := SpecFromVM(vm)
	if s.Adapters[0].VLAN.Mode != "" {
		t.Fatalf("private VLAN copied into the spec: %+v", s.Adapters[0])
	}
	if n := NotReproduced(vm); len(n) != 1 || !strings.Contains(n[0], "Set-VMNetworkAdapterVlan -VMName 'pv01' -VMNetworkAdapterName 'A'") {
		t.Fatalf("not reproduced: %v", n)
	}
}

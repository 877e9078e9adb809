package labarm

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/failback/failback/azure"
)

// labVM makes a VM with a managed OS disk (deleted with the VM), a managed
// data disk at LUN 0 (kept), an unmanaged one at LUN 1 and a NIC holding a
// public IP (both deleted with the VM).
func labVM(t *testing.T, e *env, name string) (vmID string) {
	t.Helper()
	c := ctx(t)
	for _, d := range []string{name + "-os", name + "-data"} {
		if _, err := e.srv.CreateDisk(c, e.rg, d, 4<<20, ""); err != nil {
			t.Fatal(err)
		}
	}
	vhds := "labarm-vhds-" + rnd()
	if err := e.srv.stor.CreateContainer(c, vhds); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.stor.CreateDisk(c, vhds, name+"-old.vhd", 2<<20, azure.CreateDiskOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := e.srv.CreateVM(c, VMSpec{RG: e.rg, Name: name, Size: "Standard_D4s_v5",
		OSDisk:    DiskSpec{Disk: name + "-os", DeleteOption: "Delete"},
		DataDisks: []DiskSpec{{LUN: 0, Disk: name + "-data"}, {LUN: 1, Container: vhds, Blob: name + "-old.vhd"}},
		NICs:      []NICSpec{{Name: name + "-nic", PublicIP: name + "-ip", DeleteOption: "Delete", PublicIPDeleteOption: "Delete"}}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func powerCode(iv *armcompute.VirtualMachineInstanceView) string {
	if iv == nil {
		return ""
	}
	for _, s := range iv.Statuses {
		if s.Code != nil && strings.HasPrefix(*s.Code, "PowerState/") {
			return *s.Code
		}
	}
	return ""
}

// TestVMsThroughSDK reads every field failback reads of VMs, their
// disks, NICs and public IPs through armcompute and armnetwork, and
// drives power, update and delete.
func TestVMsThroughSDK(t *testing.T) {
	e := newEnv(t, nil)
	c := ctx(t)
	vmID := labVM(t, e, "web01")
	vms, err := armcompute.NewVirtualMachinesClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	disks, _ := armcompute.NewDisksClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	nics, _ := armnetwork.NewInterfacesClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	pips, _ := armnetwork.NewPublicIPAddressesClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())

	got, err := vms.Get(c, e.rg, "web01", nil)
	if err != nil {
		t.Fatal(err)
	}
	vm := got.VirtualMachine
	p := vm.Properties
	os, dd := p.StorageProfile.OSDisk, p.StorageProfile.DataDisks
	if *vm.ID != vmID || *vm.Location == "" || *p.HardwareProfile.VMSize != "Standard_D4s_v5" || *p.ProvisioningState != "Succeeded" ||
		*os.Name != "web01-os" || !strings.HasSuffix(*os.ManagedDisk.ID, "/disks/web01-os") || *os.ManagedDisk.StorageAccountType != armcompute.StorageAccountTypesPremiumLRS ||
		*os.DiskSizeGB != 1 || *os.DeleteOption != armcompute.DiskDeleteOptionTypesDelete || *os.OSType != armcompute.OperatingSystemTypesWindows ||
		*os.CreateOption != armcompute.DiskCreateOptionTypesAttach || len(dd) != 2 ||
		*dd[0].Lun != 0 || *dd[0].Name != "web01-data" || *dd[0].DeleteOption != armcompute.DiskDeleteOptionTypesDetach || dd[0].ManagedDisk == nil ||
		*dd[1].Lun != 1 || dd[1].ManagedDisk != nil || !strings.HasPrefix(*dd[1].Vhd.URI, e.front+"/labarm-vhds-") ||
		len(p.NetworkProfile.NetworkInterfaces) != 1 || !strings.HasSuffix(*p.NetworkProfile.NetworkInterfaces[0].ID, "/networkInterfaces/web01-nic") ||
		!*p.NetworkProfile.NetworkInterfaces[0].Properties.Primary || *p.NetworkProfile.NetworkInterfaces[0].Properties.DeleteOption != armcompute.DeleteOptionsDelete ||
		p.InstanceView != nil {
		t.Fatalf("VM as the SDK reads it: %s", dump(vm))
	}
	if _, _, err := azure.ParseVHDURI(*dd[1].Vhd.URI); err != nil {
		t.Fatalf("VHD URI: %v", err)
	}
	exp, err := vms.Get(c, e.rg, "web01", &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil || powerCode(exp.Properties.InstanceView) != "PowerState/running" {
		t.Fatalf("$expand=instanceView: %v %s", err, dump(exp.VirtualMachine))
	}
	state := func(want string, disk armcompute.DiskState) {
		t.Helper()
		iv, err := vms.InstanceView(c, e.rg, "web01", nil)
		if err != nil || powerCode(&iv.VirtualMachineInstanceView) != want {
			t.Fatalf("instance view: %v %s, want %s", err, dump(iv), want)
		}
		d, err := disks.Get(c, e.rg, "web01-data", nil)
		if err != nil || *d.ManagedBy != vmID || *d.Properties.DiskState != disk {
			t.Fatalf("attached disk: %v %s, want managedBy the VM and %s", err, dump(d.Disk), disk)
		}
	}
	state("PowerState/running", armcompute.DiskStateAttached)
	if _, err := disks.BeginDelete(c, e.rg, "web01-data", nil); !isCode(err, 409, "OperationNotAllowed") {
		t.Fatalf("delete an attached disk: %v, want 409 OperationNotAllowed", err)
	}
	op, err := vms.BeginPowerOff(c, e.rg, "web01", nil)
	poll(t, op, err)
	state("PowerState/stopped", armcompute.DiskStateAttached)
	dop, err := vms.BeginDeallocate(c, e.rg, "web01", nil)
	poll(t, dop, err)
	state("PowerState/deallocated", armcompute.DiskStateReserved)
	if _, err := vms.BeginPowerOff(c, e.rg, "web01", nil); !isCode(err, 409, "OperationNotAllowed") {
		t.Fatalf("power off a deallocated VM: %v", err)
	}
	sop, err := vms.BeginStart(c, e.rg, "web01", nil)
	poll(t, sop, err)
	state("PowerState/running", armcompute.DiskStateAttached)

	nic, err := nics.Get(c, e.rg, "web01-nic", nil)
	if err != nil {
		t.Fatal(err)
	}
	ipc := nic.Properties.IPConfigurations
	if len(ipc) != 1 || !strings.HasSuffix(*ipc[0].Properties.PublicIPAddress.ID, "/publicIPAddresses/web01-ip") || *nic.Properties.VirtualMachine.ID != vmID {
		t.Fatalf("NIC as the SDK reads it: %s", dump(nic.Interface))
	}
	pip, err := pips.Get(c, e.rg, "web01-ip", nil)
	if err != nil || *pip.Properties.IPAddress == "" || *pip.Properties.IPConfiguration.ID != *ipc[0].ID {
		t.Fatalf("public IP as the SDK reads it: %v %s", err, dump(pip.PublicIPAddress))
	}
	if _, err := nics.BeginDelete(c, e.rg, "web01-nic", nil); !isCode(err, 400, "NicInUse") {
		t.Fatalf("delete an attached NIC: %v", err)
	}
	if _, err := pips.BeginDelete(c, e.rg, "web01-ip", nil); !isCode(err, 400, "PublicIPAddressInUse") {
		t.Fatalf("delete an associated public IP: %v", err)
	}

	up := armcompute.VirtualMachineUpdate{Properties: &armcompute.VirtualMachineProperties{StorageProfile: &armcompute.StorageProfile{
		OSDisk: os, DataDisks: dd}}}
	up.Properties.StorageProfile.OSDisk.DeleteOption = to.Ptr(armcompute.DiskDeleteOptionTypesDetach)
	uop, err := vms.BeginUpdate(c, e.rg, "web01", up, nil)
	if r := poll(t, uop, err); *r.Properties.StorageProfile.OSDisk.DeleteOption != armcompute.DiskDeleteOptionTypesDetach {
		t.Fatalf("PATCH deleteOption: %s", dump(r.VirtualMachine))
	}
	delop, err := vms.BeginDelete(c, e.rg, "web01", nil)
	poll(t, delop, err)
	if _, err := vms.Get(c, e.rg, "web01", nil); !isCode(err, 404, "ResourceNotFound") {
		t.Fatalf("deleted VM: %v", err)
	}
	for _, n := range []string{"web01-os", "web01-data"} {
		d, err := disks.Get(c, e.rg, n, nil)
		if err != nil || d.ManagedBy != nil || *d.Properties.DiskState != armcompute.DiskStateUnattached {
			t.Fatalf("disk %s (Detach) after the VM's delete: %v %s", n, err, dump(d.Disk))
		}
	}
	if _, err := nics.Get(c, e.rg, "web01-nic", nil); !isCode(err, 404, "ResourceNotFound") {
		t.Fatalf("NIC (Delete) after the VM's delete: %v", err)
	}
	if _, err := pips.Get(c, e.rg, "web01-ip", nil); !isCode(err, 404, "ResourceNotFound") {
		t.Fatalf("public IP (Delete) after the VM's delete: %v", err)
	}
	if _, err := e.lc.Read(c, "web01"); err == nil {
		t.Fatal("the LabCompute VM outlived the VM")
	}
	again, err := vms.BeginDelete(c, e.rg, "web01", nil)
	poll(t, again, err)
}

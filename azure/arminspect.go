package azure

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
)

// Inspect reads the VM's storage profile (OS disk and data disks by LUN:
// managed disks by id, unmanaged ones by VHD URI) and its network
// interfaces with their public IPs.
func (a *ARMCompute) Inspect(ctx context.Context, vm VMRef) (VMInfo, error) {
	resp, err := a.vms.Get(ctx, a.group(vm), vm.Name, nil)
	if err != nil {
		return VMInfo{}, a.wrap("read", vm, err)
	}
	info, err := vmInfo(resp.VirtualMachine)
	if err != nil {
		return VMInfo{}, fmt.Errorf("azure VM %s: %w", vm, err)
	}
	for i, n := range info.NICs {
		nic, err := a.nic(ctx, n.ID)
		if err != nil {
			return VMInfo{}, err
		}
		info.NICs[i].PublicIPs = nic.PublicIPs
	}
	return info, nil
}

// vmInfo reads what a failback needs out of a VM resource.
func vmInfo(v armcompute.VirtualMachine) (VMInfo, error) {
	var info VMInfo
	if v.ID != nil {
		info.ID = *v.ID
	}
	if v.Location != nil {
		info.Location = *v.Location
	}
	p := v.Properties
	if p == nil || p.StorageProfile == nil || p.StorageProfile.OSDisk == nil {
		return info, fmt.Errorf("ARM returned no storage profile")
	}
	if p.HardwareProfile != nil && p.HardwareProfile.VMSize != nil {
		info.Size = string(*p.HardwareProfile.VMSize)
	}
	os := p.StorageProfile.OSDisk
	d, err := profileDisk(os.Name, os.ManagedDisk, os.Vhd, os.DiskSizeGB, os.DeleteOption)
	if err != nil {
		return info, fmt.Errorf("OS disk: %w", err)
	}
	d.OS = true
	info.OSDisk = d
	for _, dd := range p.StorageProfile.DataDisks {
		if dd == nil || dd.Lun == nil {
			continue
		}
		d, err := profileDisk(dd.Name, dd.ManagedDisk, dd.Vhd, dd.DiskSizeGB, dd.DeleteOption)
		if err != nil {
			return info, fmt.Errorf("data disk at LUN %d: %w", *dd.Lun, err)
		}
		d.LUN = int(*dd.Lun)
		info.DataDisks = append(info.DataDisks, d)
	}
	slices.SortFunc(info.DataDisks, func(a, b ProfileDisk) int { return a.LUN - b.LUN })
	if p.NetworkProfile != nil {
		for _, n := range p.NetworkProfile.NetworkInterfaces {
			if n == nil || n.ID == nil {
				continue
			}
			r := NICRef{ID: *n.ID}
			if n.Properties != nil && n.Properties.DeleteOption != nil {
				r.DeleteWithVM = *n.Properties.DeleteOption == armcompute.DeleteOptionsDelete
			}
			info.NICs = append(info.NICs, r)
		}
	}
	return info, nil
}

func profileDisk(name *string, md *armcompute.ManagedDiskParameters, vhd *armcompute.VirtualHardDisk, sizeGB *int32, del *armcompute.DiskDeleteOptionTypes) (ProfileDisk, error) {
	var d ProfileDisk
	if name != nil {
		d.Name = *name
	}
	if sizeGB != nil {
		d.SizeGB = *sizeGB
	}
	d.DeleteWithVM = del != nil && *del == armcompute.DiskDeleteOptionTypesDelete
	switch {
	case md != nil && md.ID != nil:
		id, err := ParseResourceID(*md.ID)
		if err != nil {
			return d, err
		}
		d.Ref = DiskRef{Kind: KindManaged, ResourceGroup: id.ResourceGroup, Name: id.Name, ID: *md.ID}
		if md.StorageAccountType != nil {
			d.SKU = string(*md.StorageAccountType)
		}
	case vhd != nil && vhd.URI != nil:
		acct, ref, err := ParseVHDURI(*vhd.URI)
		if err != nil {
			return d, err
		}
		d.Ref, d.Account = ref, acct
	default:
		return d, fmt.Errorf("%q is neither a managed disk nor a VHD blob", d.Name)
	}
	return d, nil
}

// keepDisks sets the deleteOption of the VM's disks that would go with it
// to Detach, so a VM delete keeps them.
func (a *ARMCompute) keepDisks(ctx context.Context, vm VMRef) error {
	resp, err := a.vms.Get(ctx, a.group(vm), vm.Name, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return a.wrap("read", vm, err)
	}
	p := resp.Properties
	if p == nil || p.StorageProfile == nil {
		return nil
	}
	detach := armcompute.DiskDeleteOptionTypesDetach
	del := armcompute.DiskDeleteOptionTypesDelete
	sp := p.StorageProfile
	change := false
	if sp.OSDisk != nil && sp.OSDisk.DeleteOption != nil && *sp.OSDisk.DeleteOption == del {
		sp.OSDisk.DeleteOption, change = &detach, true
	}
	for _, d := range sp.DataDisks {
		if d != nil && d.DeleteOption != nil && *d.DeleteOption == del {
			d.DeleteOption, change = &detach, true
		}
	}
	if !change {
		return nil
	}
	up := armcompute.VirtualMachineUpdate{Properties: &armcompute.VirtualMachineProperties{StorageProfile: &armcompute.StorageProfile{
		OSDisk: sp.OSDisk, DataDisks: sp.DataDisks}}}
	poller, err := a.vms.BeginUpdate(ctx, a.group(vm), vm.Name, up, nil)
	if err != nil {
		return a.wrap("keep the disks of", vm, err)
	}
	_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: a.opts.PollInterval})
	return a.wrap("keep the disks of", vm, err)
}

// nic reads a network interface and the public IPs it holds.
func (a *ARMCompute) nic(ctx context.Context, id string) (NICRef, error) {
	r := NICRef{ID: id}
	rid, err := ParseResourceID(id)
	if err != nil {
		return r, err
	}
	resp, err := a.nics.Get(ctx, rid.ResourceGroup, rid.Name, nil)
	if err != nil {
		return r, a.wrapNet("read network interface", id, err)
	}
	if p := resp.Properties; p != nil {
		for _, c := range p.IPConfigurations {
			if c != nil && c.Properties != nil && c.Properties.PublicIPAddress != nil && c.Properties.PublicIPAddress.ID != nil {
				r.PublicIPs = append(r.PublicIPs, *c.Properties.PublicIPAddress.ID)
			}
		}
	}
	return r, nil
}

// DeleteNIC deletes a network interface, then its public IPs. Gone
// already is fine, so a commit can be repeated.
func (a *ARMCompute) DeleteNIC(ctx context.Context, nic NICRef) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.OperationTimeout)
	defer cancel()
	rid, err := ParseResourceID(nic.ID)
	if err != nil {
		return err
	}
	p, err := a.nics.BeginDelete(ctx, rid.ResourceGroup, rid.Name, nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: a.opts.PollInterval})
	}
	if err != nil && statusOf(err) != http.StatusNotFound {
		return a.wrapNet("delete network interface", nic.ID, err)
	}
	for _, ip := range nic.PublicIPs {
		rid, err := ParseResourceID(ip)
		if err != nil {
			return err
		}
		p, err := a.pips.BeginDelete(ctx, rid.ResourceGroup, rid.Name, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: a.opts.PollInterval})
		}
		if err != nil && statusOf(err) != http.StatusNotFound {
			return a.wrapNet("delete public IP address", ip, err)
		}
	}
	return nil
}

package lab

import (
	"fmt"
	"path/filepath"
)

// The lab's inventory: the VMs, their plans and hosts. The first three VMs
// make the tier-1 plan (a database, then two web servers), the rest the
// tier-2 plan. Every VM runs on managed disks except app01, the encrypted
// one, which stays on page blobs (the encrypted replica format lives in
// page-blob metadata), so both kinds of disk are drilled. db01 has a data
// disk (LUN 0). Every VM has a NIC, the web servers a public IP; the
// deleteOptions differ (web01's OS disk, NIC and public IP go with the VM,
// web02's NIC and public IP do not), so commit has both kinds to handle.

// Plan names of the lab.
const (
	PlanTier1 = "tier1-web"
	PlanTier2 = "tier2-apps"
)

// Lab host names and the switch every lab VM is connected to.
const (
	HostOriginal    = "hv01"
	HostAlternate   = "hv02"
	HostWrongSwitch = "hv03"
	SwitchName      = "LAN"
	// wrongSwitch is hv03's only switch: an alternate location there fails
	// the switch check, as the workflow must show.
	wrongSwitch = "Production"
)

// The lab's Azure: its subscription, the resource group of every VM, the
// container of the page-blob disks and the one holding the managed disks'
// blobs.
const (
	ResourceGroup    = "rg-lab"
	container        = "vhds"
	managedContainer = "lab-managed"
)

// MinVMs and MaxVMs bound --vms: both plans need their VMs.
const (
	MinVMs = 4
	MaxVMs = 50
)

// A large lab (more VMs than the default) is the scale drill: its extra
// VMs carry a data disk each, and past largeGroupFrom they start in
// groups of largeGroup VMs, as a big recovery plan does (50 VMs: 96 disks
// in 8 groups).
const (
	largeGroupFrom = 16
	largeGroup     = 10
)

// MaxHosts bounds --hosts.
const MaxHosts = 8

// originalName is the name of the i-th original host: hv01, then hv04,
// hv05, ... (hv02 and hv03 keep their roles).
func originalName(i int) string {
	if i == 0 {
		return HostOriginal
	}
	return fmt.Sprintf("hv%02d", i+3)
}

// The deleteOptions of lab resources.
const (
	optDelete = "Delete"
	optDetach = "Detach"
)

// vmDef is one VM of the inventory before it is sized.
type vmDef struct {
	name, plan  string
	group, gen  int
	cpus        int
	memGiB      int64
	encrypted   bool
	pageBlob    bool
	size        string
	osDelete    string
	nicDelete   string
	pip, pipDel string
	sku         string
	data        string // a data disk's name suffix ("" for none)
}

// inventory returns n VM definitions, spread over the original hosts
// round-robin; a VM's disk images are placed under imageDir(host), its
// host's disk folder.
func inventory(n int, diskSize int64, hosts []string, imageDir func(host string) string) []VM {
	defs := []vmDef{
		{name: "db01", plan: PlanTier1, group: 1, gen: 2, cpus: 4, memGiB: 8, size: "Standard_D4s_v5", sku: "Premium_LRS",
			osDelete: optDetach, nicDelete: optDetach, data: "data"},
		{name: "web01", plan: PlanTier1, group: 2, gen: 2, cpus: 2, memGiB: 4, size: "Standard_D2s_v5", sku: "Premium_LRS",
			osDelete: optDelete, nicDelete: optDelete, pip: "web01-pip", pipDel: optDelete},
		{name: "web02", plan: PlanTier1, group: 2, gen: 1, cpus: 2, memGiB: 4, size: "Standard_D2s_v5", sku: "StandardSSD_LRS",
			osDelete: optDetach, nicDelete: optDetach, pip: "web02-pip", pipDel: optDetach},
		{name: "app01", plan: PlanTier2, group: 1, gen: 2, cpus: 2, memGiB: 4, size: "Standard_D2s_v5",
			encrypted: true, pageBlob: true, nicDelete: optDelete},
	}
	for i := len(defs); i < n; i++ {
		d := vmDef{name: fmt.Sprintf("app%02d", i-2), plan: PlanTier2, group: 2, gen: 2, cpus: 2, memGiB: 2,
			size: "Standard_B2s", sku: "StandardSSD_LRS", osDelete: optDetach, nicDelete: optDelete}
		if i >= DefaultVMs {
			d.data = "data"
		}
		if i >= largeGroupFrom {
			d.group = 3 + (i-largeGroupFrom)/largeGroup
		}
		defs = append(defs, d)
	}
	var vms []VM
	for i, d := range defs[:max(n, MinVMs)] {
		host := hosts[i%len(hosts)]
		v := VM{Name: d.name, Host: host, Plan: d.plan, Group: d.group, Generation: d.gen, CPUs: d.cpus, Memory: d.memGiB << 30,
			Encrypted: d.encrypted, Size: d.size, NIC: d.name + "-nic", NICDeleteOption: d.nicDelete,
			PublicIP: d.pip, PublicIPDeleteOption: d.pipDel}
		disk := func(suffix string) Disk {
			return Disk{Image: filepath.Join(imageDir(host), d.name, d.name+"-"+suffix+".vhdx"), Size: diskSize}
		}
		osd := disk("os")
		osd.OS = true
		if d.pageBlob {
			osd.Blob = container + "/" + d.name + "-os.vhd"
		} else {
			osd.Managed, osd.SKU, osd.DeleteOption = d.name+"-os", d.sku, d.osDelete
		}
		v.Disks = append(v.Disks, osd)
		if d.data != "" {
			dd := disk(d.data)
			dd.Managed, dd.SKU, dd.DeleteOption, dd.LUN = d.name+"-"+d.data, d.sku, optDetach, 0
			v.Disks = append(v.Disks, dd)
		}
		vms = append(vms, v)
	}
	return vms
}

// planGroups returns a plan's groups of VM names, in start order.
func planGroups(vms []VM, plan string) [][]string {
	var groups [][]string
	for _, v := range vms {
		if v.Plan != plan {
			continue
		}
		for len(groups) < v.Group {
			groups = append(groups, nil)
		}
		groups[v.Group-1] = append(groups[v.Group-1], v.Name)
	}
	return groups
}

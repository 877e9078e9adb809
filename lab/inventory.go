package lab

import (
	"fmt"
	"path/filepath"
)

// The lab's inventory: the VMs, their plans and hosts. The first three VMs
// make the tier-1 plan (a database, then two web servers), the rest the
// tier-2 plan; app01 is the encrypted one, db01 the one with two disks.

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

// container holds every lab disk blob.
const container = "vhds"

// MinVMs and MaxVMs bound --vms: both plans need their VMs.
const (
	MinVMs = 4
	MaxVMs = 16
)

// inventory returns n VM definitions; disk images are placed under
// imageDir (hv01's disk folder).
func inventory(n int, diskSize int64, imageDir string) []VM {
	mk := func(name, plan string, group, gen, cpus int, memGiB int64, enc bool, disks ...string) VM {
		v := VM{Name: name, Plan: plan, Group: group, Generation: gen, CPUs: cpus, Memory: memGiB << 30, Encrypted: enc}
		for _, d := range disks {
			v.Disks = append(v.Disks, Disk{
				Blob:  container + "/" + name + "-" + d + ".vhd",
				Image: filepath.Join(imageDir, name, name+"-"+d+".vhdx"),
				Size:  diskSize,
			})
		}
		return v
	}
	vms := []VM{
		mk("db01", PlanTier1, 1, 2, 4, 8, false, "os", "data"),
		mk("web01", PlanTier1, 2, 2, 2, 4, false, "os"),
		mk("web02", PlanTier1, 2, 1, 2, 4, false, "os"),
		mk("app01", PlanTier2, 1, 2, 2, 4, true, "os"),
	}
	for i := len(vms); i < n; i++ {
		vms = append(vms, mk(fmt.Sprintf("app%02d", i-2), PlanTier2, 2, 2, 2, 2, false, "os"))
	}
	return vms[:max(n, MinVMs)]
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

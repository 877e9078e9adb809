package config

import (
	"fmt"
	"strings"
)

func (k *checker) hostNames() []string {
	var out []string
	for _, h := range k.c.Hosts {
		out = append(out, h.Name)
	}
	return out
}

func (k *checker) vmNames() []string {
	var out []string
	for _, v := range k.c.VMs {
		out = append(out, v.Name)
	}
	return out
}

func (k *checker) vms() {
	names := map[string]string{}
	azure := map[string]string{}
	blobs := map[string]string{}  // blob -> path of the disk using it
	images := map[string]string{} // host + image -> path
	for i := range k.c.VMs {
		vm := &k.c.VMs[i]
		p := fmt.Sprintf("vm[%d]", i)
		if k.checkName(p, "[[vm]]", vm.Name, "web01", i) {
			k.unique(names, p, "VM", vm.Name)
		}
		if vm.AzureVM != "" {
			key := strings.ToLower(vm.AzureVM)
			if first, dup := azure[key]; dup {
				k.bad(p+".azure_vm", "each [[vm]] fails back its own Azure VM: correct azure_vm",
					"VM %q and the VM at %s both name Azure VM %q", vm.Name, k.where(first), vm.AzureVM)
			}
			azure[key] = p
		}
		var host *Host
		switch {
		case vm.Host == "":
			k.bad(p, `add host = "hv01.example.com" (the [[host]] the VM ran on before the failover)`, "VM %q has no host", vm.Name)
		default:
			if host = k.c.Host(vm.Host); host == nil {
				k.bad(p+".host", refFix(vm.Host, k.hostNames(), fmt.Sprintf("add a [[host]] with name = %q", vm.Host)),
					"VM %q is on host %q, which no [[host]] defines", vm.Name, vm.Host)
			}
		}
		if vm.Generation != 0 && vm.Generation != 1 && vm.Generation != 2 {
			k.bad(p+".generation", "write 1 or 2 (or leave it out to keep the original VM's)", "generation = %d: Hyper-V VMs are generation 1 or 2", vm.Generation)
		}
		if vm.CPUs < 0 || vm.CPUs > 240 {
			k.bad(p+".cpus", "write 1 to 240 (or leave it out to keep the original VM's)", "cpus = %d is out of range", vm.CPUs)
		}
		if m := vm.Memory.Bytes(); vm.Memory.valid() && m != 0 {
			switch {
			case m < 32<<20:
				k.bad(p+".memory", `write at least "32M", e.g. "4G"`, "memory = %s is less than Hyper-V's 32 MB minimum", vm.Memory)
			case m%(2<<20) != 0:
				k.bad(p+".memory", fmt.Sprintf("write %s", Bytes((m/(2<<20)+1)*(2<<20))), "memory = %s is not a multiple of 2 MB, as Hyper-V needs", vm.Memory)
			}
		}
		for j, port := range vm.TestPorts {
			if port < 1 || port > 65535 {
				k.bad(fmt.Sprintf("%s.test_ports[%d]", p, j), "write TCP ports from 1 to 65535, e.g. test_ports = [1433, 3389]", "test port %d is not a TCP port", port)
			}
		}
		k.startedWhen(p, vm)
		if len(vm.Disks) == 0 {
			k.bad(p, `add a [[vm.disk]] with os = true and image = 'D:\VMs\web01.vhdx' (and one with lun = N for each data disk)`, "VM %q has no disks", vm.Name)
		}
		if vm.ResourceGroup != "" && !validGroup(vm.ResourceGroup) {
			k.bad(p+".resource_group", "resource group names are 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
				"resource_group %q is not a resource group name", vm.ResourceGroup)
		}
		slots := map[string]string{} // "os", "lun 3" -> path
		kinds := map[string]string{} // disk kind -> first path
		for j := range vm.Disks {
			dp := fmt.Sprintf("%s.disk[%d]", p, j)
			k.slot(dp, vm, j, slots, kinds)
			k.disk(dp, vm, j, host, blobs, images)
		}
	}
}

// slot checks how a disk names its Azure disk: exactly one of os = true,
// lun = N (managed disks, found in the VM's storage profile) or blob (a
// page blob); no slot twice; no VM with both kinds (Azure has none).
func (k *checker) slot(p string, vm *VM, j int, slots, kinds map[string]string) {
	d := &vm.Disks[j]
	label := fmt.Sprintf("disk %d of VM %q", j+1, vm.Name)
	n := 0
	for _, set := range []bool{d.OS, d.LUN != nil, d.Blob != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		k.bad(p, `add os = true for the OS disk or lun = N for a data disk (managed disks), or blob = "vhds/web01-os.vhd" for an unmanaged disk`,
			"%s does not say which Azure disk it is", label)
		return
	case n > 1:
		k.bad(p, "keep one of os, lun and blob", "%s names its Azure disk more than one way", label)
		return
	}
	if d.LUN != nil && (*d.LUN < 0 || *d.LUN > 63) {
		k.bad(p+".lun", "write the data disk's LUN, 0 to 63 (az vm show --query storageProfile.dataDisks)", "lun = %d is out of range", *d.LUN)
		return
	}
	kind := d.Kind()
	if first, ok := kinds[otherKind(kind)]; ok {
		k.bad(p, "an Azure VM runs on managed disks or on unmanaged ones, not both: describe every disk of this VM the same way",
			"%s is a %s disk, the disk at %s a %s one", label, kind, k.where(first), otherKind(kind))
	}
	if _, ok := kinds[kind]; !ok {
		kinds[kind] = p
	}
	if kind != DiskManaged {
		return
	}
	key := strings.ToLower(d.Slot())
	if first, dup := slots[key]; dup {
		k.bad(p, "each [[vm.disk]] maps its own Azure disk: correct one of them", "%s is the %s, as is the disk at %s", label, d.Slot(), k.where(first))
	}
	slots[key] = p
}

func otherKind(kind string) string {
	if kind == DiskManaged {
		return DiskPageBlob
	}
	return DiskManaged
}

func (k *checker) disk(p string, vm *VM, j int, host *Host, blobs, images map[string]string) {
	d := &vm.Disks[j]
	label := fmt.Sprintf("disk %d of VM %q", j+1, vm.Name)
	if d.Blob != "" {
		container, name, ok := strings.Cut(d.Blob, "/")
		switch {
		case !ok || name == "":
			k.bad(p+".blob", fmt.Sprintf(`write container/blob, e.g. "vhds/%s"`, d.Blob), "blob %q names no container", d.Blob)
		case !validContainer(container):
			k.bad(p+".blob", "container names are 3-63 lowercase letters, digits and single hyphens", "blob %q: %q is not a container name", d.Blob, container)
		case len(name) > 1024:
			k.bad(p+".blob", "shorten the blob name", "blob name is longer than Azure's 1024 characters")
		case !strings.HasSuffix(strings.ToLower(name), ".vhd"):
			k.warn(p+".blob", "check the name: failed-over disks are page blobs holding a fixed VHD", "blob %q does not end in .vhd", d.Blob)
		}
		if first, dup := blobs[d.Blob]; dup {
			k.bad(p+".blob", "each disk has its own blob: correct one of them", "blob %q is also the disk at %s", d.Blob, k.where(first))
		}
		blobs[d.Blob] = p
	}
	if d.Image == "" {
		k.bad(p, `add image = 'D:\VMs\web01.vhdx' (the disk's path on the host)`, "%s has no image", label)
		return
	}
	transport := ""
	if host != nil {
		transport = host.Transport
	}
	low := strings.ToLower(d.Image)
	isVHD := strings.HasSuffix(low, ".vhd")
	switch {
	case !isHostAbs(transport, d.Image) && !(host == nil && strings.HasPrefix(d.Image, "/")):
		k.bad(p+".image", `write the full path in single quotes, e.g. 'D:\VMs\web01.vhdx'`, "image %q is not a full path on the host", d.Image)
	case !isVHD && !strings.HasSuffix(low, ".vhdx"):
		k.bad(p+".image", "Hyper-V disks are .vhdx or .vhd files", "image %q is not a .vhdx or .vhd file", d.Image)
	case isVHD && vm.Generation == 2:
		k.bad(p+".image", "convert the disk to VHDX (Convert-VHD) and write the .vhdx path, or set generation = 1",
			"image %s is a VHD, but generation 2 VMs use VHDX disks only", d.Image)
	case host != nil:
		k.hostPath(p+".image", host, d.Image, "image")
	}
	key := strings.ToLower(vm.Host) + "|" + hostKey(d.Image)
	if first, dup := images[key]; dup {
		k.bad(p+".image", "each disk has its own image file: correct one of them", "image %s is also the disk at %s", d.Image, k.where(first))
	}
	images[key] = p
	if d.AlternateFolder != "" && !isHostAbs(transport, d.AlternateFolder) && !isWindowsAbs(d.AlternateFolder) {
		k.bad(p+".alternate_folder", `write a full host folder, e.g. 'E:\Hyper-V\web01'`, "alternate_folder %q is not a full path", d.AlternateFolder)
	}
}

func (k *checker) plans() {
	names := map[string]string{}
	for i := range k.c.Plans {
		pl := &k.c.Plans[i]
		p := fmt.Sprintf("plan[%d]", i)
		if k.checkName(p, "[[plan]]", pl.Name, "web-tier", i) {
			k.unique(names, p, "plan", pl.Name)
		}
		if len(pl.Groups) == 0 {
			k.bad(p, `add groups = [["db01"], ["web01", "web02"]] (groups start in order)`, "plan %q has no groups", pl.Name)
			continue
		}
		where := map[string]int{} // VM name -> group index
		for g, group := range pl.Groups {
			gp := fmt.Sprintf("%s.groups[%d]", p, g)
			if len(group) == 0 {
				k.bad(gp, "remove the empty [] or put VMs in it", "group %d of plan %q is empty", g+1, pl.Name)
			}
			for j, name := range group {
				ep := fmt.Sprintf("%s[%d]", gp, j)
				if k.c.VM(name) == nil {
					k.bad(ep, refFix(name, k.vmNames(), fmt.Sprintf("add a [[vm]] with name = %q, or remove it from the plan", name)),
						"plan %q names VM %q, which no [[vm]] defines", pl.Name, name)
				}
				if first, dup := where[name]; dup {
					if first == g {
						k.bad(ep, "remove the repeat", "VM %q is twice in group %d of plan %q", name, g+1, pl.Name)
					} else {
						k.bad(ep, "a VM starts once: keep it in one group", "VM %q is in group %d and group %d of plan %q", name, first+1, g+1, pl.Name)
					}
					continue
				}
				where[name] = g
			}
		}
	}
}

package workflow

import (
	"context"
	"fmt"
	"strings"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/units"
)

// A VM's Azure disks come from its storage profile: config.toml says
// which on-premises image each one goes to (os = true, lun = N, or a
// page blob's name), and ARM says which disk that is. The mapping is
// made here, once per look, and whatever differs between the two is a
// problem the pre-flight refuses: a failback (and above all a commit,
// which deletes the Azure VM) must never act on a VM whose disks are not
// the ones synchronised.

// azureVM is a VM's Azure side as the workflow sees it.
type azureVM struct {
	ref  azure.VMRef
	info *azure.VMInfo // nil when it could not be read
	err  error         // why not
	// refs has one entry per configured disk (zero Kind: not found).
	refs []azure.DiskRef
	// problems say what differs between config.toml and the VM.
	problems []string
}

// azureRef is a configured VM's Azure reference.
func azureRef(vm *config.VM) azure.VMRef {
	return azure.VMRef{ResourceGroup: vm.ResourceGroup, Name: vm.AzureVM}
}

// inspectVM reads the Azure VM's storage profile and maps it onto the
// configured disks. Page-blob disks keep their configured reference when
// the VM cannot be read (listing commands can still show them).
func (m *Manager) inspectVM(ctx context.Context, vm *config.VM) azureVM {
	a := azureVM{ref: azureRef(vm)}
	if m.deps.Compute == nil {
		a.err = fmt.Errorf("this view of the jobs has no connection to Azure")
	} else if info, err := m.deps.Compute.Inspect(ctx, a.ref); err != nil {
		a.err = err
	} else {
		a.info = &info
	}
	a.refs, a.problems = mapDisks(m.cfg, vm, a.info)
	return a
}

// mapDisks finds each configured disk in the VM's storage profile (info
// nil: page blobs by their configured name, managed disks not at all) and
// says what differs: a configured disk the VM lacks, a VM disk no
// [[vm.disk]] maps, a disk of the other kind.
func mapDisks(cfg *config.Config, vm *config.VM, info *azure.VMInfo) ([]azure.DiskRef, []string) {
	refs := make([]azure.DiskRef, len(vm.Disks))
	var problems []string
	var profile []azure.ProfileDisk
	if info != nil {
		profile = info.Disks()
	}
	used := make([]bool, len(profile))
	account := cfg.Azure.Storage.Account()
	for i := range vm.Disks {
		d := &vm.Disks[i]
		if d.Kind() == config.DiskPageBlob {
			container, blob, _ := strings.Cut(d.Blob, "/")
			refs[i] = azure.PageBlobRef(container, blob)
			if info == nil {
				continue
			}
			j := findProfile(profile, func(p azure.ProfileDisk) bool {
				return p.Ref.Kind == azure.KindPageBlob && p.Ref.Key() == refs[i].Key() &&
					(account == "" || p.Account == "" || strings.EqualFold(p.Account, account))
			})
			if j < 0 {
				problems = append(problems, fmt.Sprintf("blob %s is not a disk of the Azure VM (it has %s)", d.Blob, profileText(profile)))
				continue
			}
			used[j] = true
			continue
		}
		if info == nil {
			continue
		}
		j := findProfile(profile, func(p azure.ProfileDisk) bool {
			return (d.OS && p.OS) || (!d.OS && !p.OS && d.LUN != nil && p.LUN == *d.LUN)
		})
		switch {
		case j < 0:
			problems = append(problems, fmt.Sprintf("the Azure VM has no %s (it has %s)", strings.ToLower(d.Slot()), profileText(profile)))
		case profile[j].Ref.Kind != azure.KindManaged:
			used[j] = true
			problems = append(problems, fmt.Sprintf("its %s is an unmanaged disk, %s: write blob = %q instead of %s",
				strings.ToLower(profile[j].Slot()), profile[j].Ref, profile[j].Ref.String(), slotKey(d)))
		default:
			used[j] = true
			refs[i] = profile[j].Ref
		}
	}
	for j, p := range profile {
		if used[j] {
			continue
		}
		add := "os = true"
		if !p.OS {
			add = fmt.Sprintf("lun = %d", p.LUN)
		}
		if p.Ref.Kind == azure.KindPageBlob {
			add = fmt.Sprintf("blob = %q", p.Ref.String())
		}
		problems = append(problems, fmt.Sprintf("its %s %s%s is in no [[vm.disk]]: add one with %s and the disk's on-premises image (every disk of the VM is failed back)",
			strings.ToLower(p.Slot()), p.Name, sizeText(p), add))
	}
	return refs, problems
}

func findProfile(profile []azure.ProfileDisk, match func(azure.ProfileDisk) bool) int {
	for j, p := range profile {
		if match(p) {
			return j
		}
	}
	return -1
}

// slotKey is how config.toml names a managed disk's slot.
func slotKey(d *config.Disk) string {
	if d.OS {
		return "os = true"
	}
	if d.LUN != nil {
		return fmt.Sprintf("lun = %d", *d.LUN)
	}
	return "blob"
}

func sizeText(p azure.ProfileDisk) string {
	if p.SizeGB <= 0 {
		return ""
	}
	return " (" + units.Bytes(int64(p.SizeGB)<<30) + ")"
}

// profileText lists a storage profile: "OS disk db01-os, LUN 0 db01-data".
func profileText(profile []azure.ProfileDisk) string {
	if len(profile) == 0 {
		return "no disks"
	}
	var parts []string
	for _, p := range profile {
		parts = append(parts, p.Slot()+" "+p.Name)
	}
	return strings.Join(parts, ", ")
}

// diskWhat names a disk's pre-flight check.
func diskWhat(d targetDisk) string {
	if d.ref.Kind == azure.KindManaged {
		return "disk " + d.ref.String() + " (" + d.cfg.Slot() + ") is a managed disk"
	}
	return "disk " + d.ref.String() + " is a page blob"
}

// checkProfile reports whether the Azure VM's disks are the configured
// ones, and what differs.
func (m *Manager) checkProfile(p *prepared, t *target) {
	a := t.az
	row := CheckRow{VM: t.vm.Name, What: "disks of Azure VM " + a.ref.Name}
	switch {
	case a.info == nil:
		row.Detail = "its storage profile cannot be read: " + errText(a.err)
		row.Fix = "check azure_vm, the resource group and the Azure credentials (the identity needs to read the VM)"
	case len(a.problems) > 0:
		row.Detail = strings.Join(a.problems, "; ")
		row.Fix = "make the [[vm.disk]] entries of " + t.vm.Name + " name exactly the Azure VM's disks (az vm show --query storageProfile)"
	default:
		row.OK, row.Detail = true, profileText(a.info.Disks())
	}
	p.add(row)
}

func errText(err error) string {
	if err == nil {
		return "no answer"
	}
	return err.Error()
}

package workflow

import (
	"fmt"

	"github.com/failback/failback/config"
)

// Plans implements Service: every recovery plan, then every VM alone.
// It never calls Azure, so it answers at once: disk sizes come from a
// cache that a background lookup fills (sizes.go); a disk not read yet
// has neither Size nor SizeError, and the hub is notified once it is.
func (m *Manager) Plans() []PlanInfo {
	var out []PlanInfo
	var queue []*config.VM
	for i := range m.cfg.Plans {
		p := &m.cfg.Plans[i]
		pi := PlanInfo{Name: p.Name, Description: p.Description, Groups: [][]VMInfo{}}
		for _, g := range p.Groups {
			var grp []VMInfo
			for _, name := range g {
				if vm := m.cfg.VM(name); vm != nil {
					grp = append(grp, m.vmInfo(vm, &queue))
				}
			}
			pi.Groups = append(pi.Groups, grp)
		}
		out = append(out, pi)
	}
	for i := range m.cfg.VMs {
		vm := &m.cfg.VMs[i]
		out = append(out, PlanInfo{Name: vm.Name, Description: fmt.Sprintf("the VM %s alone", vm.Name),
			Single: true, Groups: [][]VMInfo{{m.vmInfo(vm, &queue)}}})
	}
	m.readFacts(queue)
	return out
}

func (m *Manager) vmInfo(vm *config.VM, queue *[]*config.VM) VMInfo {
	vi := VMInfo{Name: vm.Name, AzureVM: vm.AzureVM, ResourceGroup: m.cfg.ResourceGroupOf(vm), Host: vm.Host, Switch: vm.Switch,
		Generation: vm.Generation, CPUs: vm.CPUs, Memory: vm.Memory.Bytes(), Disks: []DiskInfo{}}
	facts := m.vmFactsFor(vm, queue)
	for k, d := range vm.Disks {
		f := facts[k]
		di := DiskInfo{Kind: d.Kind(), Slot: d.Slot(), Image: d.Image, Size: f.size, SizeError: f.err, SKU: f.sku}
		if d.Kind() == config.DiskPageBlob {
			di.Blob, di.Name = d.Blob, d.Blob
		} else if f.ref.Kind != "" {
			di.Name = f.ref.Name
		}
		vi.Disks = append(vi.Disks, di)
	}
	return vi
}

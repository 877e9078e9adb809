package workflow

import (
	"context"
	"fmt"
)

// vmRemover is a host that can remove a VM (hyperv: Remove-VM; the lab
// host too).
type vmRemover interface {
	RemoveVM(ctx context.Context, name string, deleteDisks bool) error
}

// createdAfterUndo deals with the VMs this job created at an alternate
// location once Undo made Azure the running side again: it removes them
// with the disks it made for them when the operator asked (Undo and
// remove), else says they stay, off, and how to take them away.
func (j *job) createdAfterUndo(ctx context.Context) error {
	r := j.snap()
	for i, vm := range r.VMs {
		if !vm.CreatedVM || vm.RemovedVM {
			continue
		}
		if !r.RemoveCreated {
			j.info("undo", "VM %s, which this job created on %s, stays there, off, with its disks; remove it on the host when it is no longer wanted (Remove-VM -Name '%s')", vm.Name, vm.Host, vm.Name)
			continue
		}
		h, _, err := j.m.host(vm.Host)
		if err != nil {
			return err
		}
		rm, ok := h.(vmRemover)
		if !ok {
			return fmt.Errorf("host %s cannot remove VMs: remove %s there by hand (Remove-VM -Name '%s' and its disks), then resume", vm.Host, vm.Name, vm.Name)
		}
		if err := rm.RemoveVM(ctx, vm.Name, true); err != nil {
			return fmt.Errorf("remove VM %s, which this job created on %s: %w (resume tries again)", vm.Name, vm.Host, err)
		}
		if err := j.update(func(r *jobRecord) { r.VMs[i].RemovedVM = true }); err != nil {
			return err
		}
		j.info("undo", "VM %s, which this job created on %s, is removed with its disks", vm.Name, vm.Host)
	}
	return nil
}

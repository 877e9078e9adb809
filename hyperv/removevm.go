package hyperv

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// RemoveVM removes a VM that is off from the host (Remove-VM), and its
// disk files too when deleteDisks is set: Undo's way to take back the VMs
// a failback created at an alternate location. A running VM is refused.
func (h *PSHost) RemoveVM(ctx context.Context, name string, deleteDisks bool) error {
	var r struct {
		Name  string
		Disks psList[string]
	}
	return h.run(ctx, "remove-vm", "remove VM "+quoteName(name), []psParam{strParam("Name", name), boolParam("DeleteDisks", deleteDisks)}, &r)
}

// RemoveVM implements the same on a lab host: the VM's record goes, and
// its disk files with deleteDisks.
func (h *LabHost) RemoveVM(ctx context.Context, name string, deleteDisks bool) error {
	op := "remove VM " + psQuote(name)
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	if v.State != StateOff {
		return newHostError(ErrBadState, h.Name(), op, "the VM is "+string(v.State)+"; it must be off to be removed")
	}
	if err := os.Remove(h.vmFile(name)); err != nil {
		return err
	}
	if deleteDisks {
		for _, d := range v.Disks {
			if err := os.Remove(d.HostPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

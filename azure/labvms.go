package azure

import (
	"context"

	"github.com/failback/failback/internal/azurite"
)

// LabVMs is Compute over the lab's simulated VMs (LabCompute), in this
// process: the in-process drills of the tests use it. The lab that
// `failback lab up` builds serves its VMs on a loopback ARM endpoint
// instead, reached through ARMCompute like Azure. Resource groups are
// ignored: lab VM names are unique.
type LabVMs struct{ *LabCompute }

var _ Compute = LabVMs{}

// State is the VM's power state.
func (l LabVMs) State(ctx context.Context, vm VMRef) (PowerState, error) {
	return l.LabCompute.State(ctx, vm.Name)
}

// PowerOff stops the VM (deallocated or not, the lab VM just stops).
func (l LabVMs) PowerOff(ctx context.Context, vm VMRef, o PowerOffOptions) error {
	if err := l.LabCompute.PowerOff(ctx, vm.Name); err != nil {
		return err
	}
	if o.Deallocate {
		return l.LabCompute.setPower(ctx, vm.Name, PowerDeallocated)
	}
	return nil
}

// Start starts the VM.
func (l LabVMs) Start(ctx context.Context, vm VMRef) error { return l.LabCompute.Start(ctx, vm.Name) }

// Delete deletes the VM; its page-blob disks stay, as in Azure.
func (l LabVMs) Delete(ctx context.Context, vm VMRef, _ DeleteOptions) error {
	return l.LabCompute.Delete(ctx, vm.Name)
}

// Inspect gives the VM's disks as a storage profile: the first is the OS
// disk, the others data disks at LUN 0, 1, ...; all are page blobs in the
// lab's storage account. Lab VMs have no network interfaces.
func (l LabVMs) Inspect(ctx context.Context, vm VMRef) (VMInfo, error) {
	st, err := l.LabCompute.Read(ctx, vm.Name)
	if err != nil {
		return VMInfo{}, err
	}
	info := VMInfo{ID: "lab/" + vm.Name, Location: "lab"}
	for i, d := range st.Disks {
		pd := ProfileDisk{Name: d.Blob, Ref: PageBlobRef(d.Container, d.Blob), Account: azurite.AccountName}
		if i == 0 {
			pd.OS = true
			info.OSDisk = pd
			continue
		}
		pd.LUN = i - 1
		info.DataDisks = append(info.DataDisks, pd)
	}
	return info, nil
}

// DeleteNIC has nothing to delete: lab VMs have no network interfaces.
func (l LabVMs) DeleteNIC(context.Context, NICRef) error { return nil }

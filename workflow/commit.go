package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/failback/failback/azure"
)

// flowCommit makes the failback final: the Azure VMs are deleted, the
// undo journals discarded, and of this job's snapshots only the last of
// each disk is kept (the baseline the disk blobs were synced to). The
// blobs stay: they equal the on-premises disks as of the failback, which
// is what makes reverse replication send only later changes.
func (j *job) flowCommit(ctx context.Context) error {
	if err := j.setState(StateCommitting); err != nil {
		return err
	}
	if err := j.hook(ctx, "commit"); err != nil {
		return err
	}
	err := j.eachVM(ctx, func(ctx context.Context, v int, vm vmRecord) error {
		if vm.AzureDeleted {
			return nil
		}
		if err := j.m.deps.Compute.Delete(ctx, vm.azureVM(), azure.DeleteOptions{KeepDisks: true}); err != nil && !errors.Is(err, azure.ErrVMNotFound) {
			return fmt.Errorf("delete Azure VM %s: %w", vm.AzureVM, err)
		}
		j.setPower(true, vm.Name, "deleted")
		j.info("commit", "Azure VM %s deleted (its disk blobs stay)", vm.AzureVM)
		return j.update(func(r *jobRecord) { r.VMs[v].AzureDeleted = true })
	})
	if err != nil {
		return err
	}
	r := j.snap()
	for vi, vm := range r.VMs {
		for di, d := range vm.Disks {
			keep := ""
			if p := d.lastDone(); p != nil {
				keep = p.Snapshot
			}
			n, err := j.deleteSnapshots(ctx, d, keep)
			if err != nil {
				return fmt.Errorf("delete snapshots of %s: %w", d.name(), err)
			}
			if err := j.discardJournals(vi, di); err != nil {
				return err
			}
			// The deleted VM may leave a hold on its disk (a page blob's
			// lease): end it so reverse replication can write.
			disk, err := j.openDisk(ctx, d)
			if err == nil {
				err = disk.Detach(ctx)
			}
			if err != nil {
				return err
			}
			j.info("commit", "%s %s: %d snapshot(s) deleted, baseline %s kept, undo journals discarded", vm.Name, d.name(), n, keep)
		}
	}
	if err := j.setState(StateCommitted); err != nil {
		return err
	}
	j.info("committed", "committed: the on-premises VMs are the running side; Reverse replicate protects them back to Azure")
	return nil
}

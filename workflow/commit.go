package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/failback/failback/azure"
)

// flowCommit makes the failback final: each Azure VM is checked to still
// own exactly the disks this job synchronised, then deleted with its
// network interfaces and public IPs (its managed disks stay unless
// [commit] delete_disks); the undo journals are discarded, and of this
// job's snapshots only the newest of each disk is kept: the disks (or
// the page blobs) equal the on-premises disks as of the failback, which
// is what makes reverse replication send only later changes.
func (j *job) flowCommit(ctx context.Context) error {
	if err := j.setState(StateCommitting); err != nil {
		return err
	}
	if err := j.hook(ctx, "commit"); err != nil {
		return err
	}
	if err := j.eachVM(ctx, j.commitVM); err != nil {
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
			if err := j.snapshotsGone(diskKey{vi, di}, keep); err != nil {
				return err
			}
			if err := j.discardJournals(ctx, vi, di); err != nil {
				return err
			}
			if err := j.afterVM(ctx, vm, d); err != nil {
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

// commitVM deletes one Azure VM, after checking it still owns the disks
// that were synchronised, then its network interfaces and public IPs.
func (j *job) commitVM(ctx context.Context, v int, vm vmRecord) error {
	if !vm.AzureDeleted {
		info, err := j.m.deps.Compute.Inspect(ctx, vm.azureVM())
		switch {
		case errors.Is(err, azure.ErrVMNotFound):
			j.info("commit", "Azure VM %s is gone already", vm.AzureVM)
		case err != nil:
			return fmt.Errorf("read Azure VM %s before deleting it: %w", vm.AzureVM, err)
		default:
			if err := ownsDisks(vm, info); err != nil {
				return err
			}
			keep := !j.m.cfg.Commit.DeleteDisks
			if err := j.m.deps.Compute.Delete(ctx, vm.azureVM(), azure.DeleteOptions{KeepDisks: keep}); err != nil && !errors.Is(err, azure.ErrVMNotFound) {
				return fmt.Errorf("delete Azure VM %s: %w", vm.AzureVM, err)
			}
			// Network interfaces as ARM lists them now (the record's
			// are what the confirmation named).
			if err := j.update(func(r *jobRecord) { r.VMs[v].NICs = info.NICs }); err != nil {
				return err
			}
		}
		j.setPower(true, vm.Name, "deleted")
		j.info("commit", "Azure VM %s deleted", vm.AzureVM)
		if err := j.update(func(r *jobRecord) { r.VMs[v].AzureDeleted = true }); err != nil {
			return err
		}
	}
	for _, n := range j.snap().VMs[v].NICs {
		if err := j.m.deps.Compute.DeleteNIC(ctx, n); err != nil {
			return fmt.Errorf("delete network interface %s of Azure VM %s: %w", n.Name(), vm.AzureVM, err)
		}
		what := "network interface " + n.Name()
		if len(n.PublicIPs) > 0 {
			var ips []string
			for _, ip := range n.PublicIPs {
				ips = append(ips, lastPart(ip))
			}
			what += " and public IP " + strings.Join(ips, ", ")
		}
		j.info("commit", "Azure VM %s: %s deleted", vm.AzureVM, what)
	}
	return nil
}

// ownsDisks refuses to delete a VM whose disks are not exactly the ones
// the job synchronised (someone swapped or added a disk since the
// pre-flight): deleting it could delete data nobody failed back.
func ownsDisks(vm vmRecord, info azure.VMInfo) error {
	want := map[string]bool{}
	for _, d := range vm.Disks {
		want[d.Azure.Key()] = true
	}
	var extra []string
	have := map[string]bool{}
	for _, p := range info.Disks() {
		have[p.Ref.Key()] = true
		if !want[p.Ref.Key()] {
			extra = append(extra, p.Slot()+" "+p.Ref.String())
		}
	}
	var missing []string
	for _, d := range vm.Disks {
		if !have[d.Azure.Key()] {
			missing = append(missing, d.Azure.String())
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return nil
	}
	var why []string
	if len(extra) > 0 {
		why = append(why, "it now has disks this job did not synchronise ("+strings.Join(extra, ", ")+")")
	}
	if len(missing) > 0 {
		why = append(why, "it no longer has "+strings.Join(missing, ", "))
	}
	return fmt.Errorf("the Azure VM %s was not deleted: %s; nothing was deleted. Check the VM in Azure: if its data matters, fail it back again; if not, delete it by hand, then commit again", vm.AzureVM, strings.Join(why, " and "))
}

// afterVM is what becomes of a disk once its VM is gone: a page blob's
// lingering lease is broken so reverse replication can write; a managed
// disk is deleted when [commit] delete_disks says so.
func (j *job) afterVM(ctx context.Context, vm vmRecord, d diskRecord) error {
	disk, err := j.openDisk(ctx, d)
	if errors.Is(err, azure.ErrNotFound) && d.Azure.Kind == azure.KindManaged {
		return nil // deleted already
	}
	if err != nil {
		return err
	}
	if d.Azure.Kind == azure.KindManaged && j.m.cfg.Commit.DeleteDisks {
		rm, ok := disk.(azure.Remover)
		if !ok {
			return fmt.Errorf("disk %s cannot be deleted by failback", d.name())
		}
		if err := rm.Remove(ctx); err != nil {
			return err
		}
		j.info("commit", "%s: managed disk %s deleted ([commit] delete_disks)", vm.Name, d.name())
		return nil
	}
	return disk.Detach(ctx)
}

package workflow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/failback/failback/engine"
)

// flowCancel stops everything and puts every target disk back as it was
// before the job: each pass's journal holds the bytes that pass
// overwrote, so applying them newest first restores the original.
func (j *job) flowCancel(ctx context.Context) error {
	if err := j.setState(StateCancelling); err != nil {
		return err
	}
	if err := j.hook(ctx, "cancel"); err != nil {
		return err
	}
	if err := j.eachDisk(ctx, j.rollbackDisk); err != nil {
		return err
	}
	if err := j.restartAzure(ctx); err != nil {
		return err
	}
	if err := j.cleanUp(ctx, false); err != nil {
		return err
	}
	r := j.snap()
	for _, vm := range r.VMs {
		if vm.CreatedVM {
			how := "Remove-VM -Name " + psq(vm.Name)
			if vm.Spec != nil && vm.Spec.HighlyAvailable {
				how = "Remove-ClusterGroup -Name " + psq(vm.Name) + " -RemoveResources, then " + how
			}
			j.warn("cancel", "the VM %s that this job created on %s stays, with its disks back to empty: remove it there (%s) if it is not wanted", vm.Name, vm.Host, how)
		}
	}
	if err := j.setState(StateCancelled); err != nil {
		return err
	}
	j.info("cancelled", "cancelled: every on-premises disk is as it was before the job; the Azure VMs run as before")
	return nil
}

// rollbackDisk applies a disk's pass journals newest first. A journal
// already applied is gone, so running it again (after a crash) finishes
// the job.
func (j *job) rollbackDisk(ctx context.Context, k diskKey) error {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	if d.RolledBack {
		return nil
	}
	onprem := j.onPrem(k)
	var passes []int
	for _, p := range d.Passes {
		passes = append(passes, p.N)
	}
	dirs, err := onprem.Journals(ctx, passes)
	if err != nil {
		return fmt.Errorf("the journals of %s %s: %w", vm.Name, d.name(), err)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(dirs)))
	if len(dirs) > 0 {
		j.setDiskPhase(k, diskRollback, "")
		for _, n := range dirs {
			st, err := onprem.Rollback(ctx, n, func(p engine.Progress) { j.setProgress(k, diskRollback, p) })
			if errors.Is(err, engine.ErrNoJournal) {
				continue
			}
			if errors.Is(err, engine.ErrJournalCorrupt) || errors.Is(err, engine.ErrJournalUnreadable) {
				// Cancelling again gives the same result; the journals
				// stay, and earlier passes wait (they go after this one).
				return fmt.Errorf("roll back pass %d of %s %s: %w. %s is not as it was before the job, and cancelling again gives the same result; the journals are kept. Restore %s from a backup, or fail back again to make it whole", n, vm.Name, d.name(), err, d.Image, d.Image)
			}
			if err != nil {
				return fmt.Errorf("roll back pass %d of %s %s: %w (cancel again to finish it)", n, vm.Name, d.name(), err)
			}
			j.info("rollback", "%s %s: pass %d undone: %d blocks restored (%s of old data, %d to zeros)",
				vm.Name, d.name(), n, st.Blocks, bytesText(st.BytesRestored), st.BlocksZeroed)
		}
	}
	if err := onprem.Forget(ctx); err != nil {
		return err
	}
	j.setDiskPhase(k, diskWaiting, "")
	return j.update(func(r *jobRecord) {
		dd := &r.VMs[k.v].Disks[k.d]
		dd.RolledBack, dd.Sums, dd.Verified = true, false, false
	})
}

// restartAzure starts the Azure VMs this job shut down.
func (j *job) restartAzure(ctx context.Context) error {
	return j.eachVM(ctx, func(ctx context.Context, v int, vm vmRecord) error {
		if !vm.ShutByJob || vm.AzureRestarted {
			return nil
		}
		if err := j.m.deps.Compute.Start(ctx, vm.azureVM()); err != nil {
			return fmt.Errorf("start Azure VM %s again: %w", vm.AzureVM, err)
		}
		j.setPower(true, vm.Name, "running")
		j.info("azure", "Azure VM %s runs again (this job had shut it down)", vm.AzureVM)
		return j.update(func(r *jobRecord) { r.VMs[v].AzureRestarted = true })
	})
}

// cleanUp deletes this job's snapshots and, unless kept for a rollback
// that is still possible, its journals.
func (j *job) cleanUp(ctx context.Context, discardJournals bool) error {
	r := j.snap()
	var errs []error
	total := 0
	for vi, vm := range r.VMs {
		for di, d := range vm.Disks {
			n, err := j.deleteSnapshots(ctx, d, "")
			total += n
			if err != nil {
				errs = append(errs, fmt.Errorf("delete snapshots of %s: %w", d.name(), err))
			} else if err := j.snapshotsGone(diskKey{vi, di}, ""); err != nil {
				errs = append(errs, err)
			}
			if discardJournals {
				if err := j.discardJournals(ctx, vi, di); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	j.info("clean-up", "deleted %d snapshot(s) of this job", total)
	return nil
}

// discardJournals commits every pass of a disk: no rollback after this.
func (j *job) discardJournals(ctx context.Context, v, d int) error {
	var passes []int
	for _, p := range j.snap().VMs[v].Disks[d].Passes {
		passes = append(passes, p.N)
	}
	return j.onPrem(diskKey{v, d}).Discard(ctx, passes)
}

// flowUndo makes Azure the running side again after phase 2: the
// on-premises VMs stop, the Azure VMs start, and whatever the on-premises
// VMs changed since the failback is left behind on premises.
func (j *job) flowUndo(ctx context.Context) error {
	if err := j.setState(StateUndoing); err != nil {
		return err
	}
	if err := j.hook(ctx, "undo"); err != nil {
		return err
	}
	if err := j.stopOnPrem(ctx); err != nil {
		return err
	}
	if est := j.measureDiscard(ctx); est.err == nil {
		j.warn("undo", "the on-premises VMs had changed %s since the failback; Azure does not have these changes", bytesText(est.bytes))
	}
	if err := j.restartAzure(ctx); err != nil {
		return err
	}
	if err := j.cleanUp(ctx, true); err != nil {
		return err
	}
	r := j.snap()
	for vi, vm := range r.VMs {
		for di := range vm.Disks {
			if err := j.onPrem(diskKey{vi, di}).Forget(ctx); err != nil {
				return err
			}
		}
	}
	if err := j.createdAfterUndo(ctx); err != nil {
		return err
	}
	if err := j.setState(StateUndone); err != nil {
		return err
	}
	j.info("undone", "undone: the Azure VMs are the running side again; fail back again when ready")
	return nil
}

// stopOnPrem shuts down the on-premises VMs this job started, last group
// first.
func (j *job) stopOnPrem(ctx context.Context) error {
	r := j.snap()
	idx := make([]int, len(r.VMs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return r.VMs[idx[a]].Group > r.VMs[idx[b]].Group })
	for _, i := range idx {
		vm := r.VMs[i]
		if !vm.StartedOnPrem || vm.StoppedOnPrem {
			continue
		}
		h, hc, err := j.m.host(vm.Host)
		if err != nil {
			return err
		}
		forced, err := h.ShutdownVM(ctx, vm.Name, hc.ShutdownTimeout.D())
		if err != nil {
			return fmt.Errorf("shut down %s on %s: %w", vm.Name, vm.Host, err)
		}
		how := "shut down"
		if forced {
			how = "turned off (the guest did not shut down in time)"
		}
		j.setPower(false, vm.Name, "off")
		j.info("undo", "on-premises VM %s %s", vm.Name, how)
		if err := j.update(func(r *jobRecord) { r.VMs[i].StoppedOnPrem = true }); err != nil {
			return err
		}
	}
	return nil
}

// discardEstimate is what Undo would leave behind: bytes the on-premises
// VMs changed since the failback.
type discardEstimate struct {
	bytes   int64
	at      string    // when measured, for the text
	when    time.Time // when measured, for the refresh
	err     error
	running bool
	valid   bool
}

// measureDiscard compares each image with its sums file (reading only the
// local image, never Azure).
func (j *job) measureDiscard(ctx context.Context) discardEstimate {
	r := j.snap()
	var est discardEstimate
	for vi, vm := range r.VMs {
		for di, d := range vm.Disks {
			if !d.Sums {
				continue
			}
			ext, err := j.onPrem(diskKey{vi, di}).Changed(ctx, nil)
			if err != nil {
				est.err = err
				return est
			}
			for _, e := range ext {
				est.bytes += e.Len
			}
		}
	}
	est.valid = true
	est.at = j.m.now().Format("15:04:05")
	return est
}

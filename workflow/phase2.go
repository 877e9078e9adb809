package workflow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/mover"
)

// flowComplete is Complete failover: shut the Azure VMs down, move what
// changed since the last snapshot, verify, start on premises.
func (j *job) flowComplete(ctx context.Context) error {
	return j.phase2(ctx, passSpec{kind: passFinal, mode: engine.Ranges, sums: true, keepOld: true},
		"phase 2: final snapshot, sync the changes since the last snapshot")
}

// fullDownload is "synchronize during failover only".
func (j *job) fullDownload(ctx context.Context) error {
	return j.phase2(ctx, passSpec{kind: passFull, mode: engine.Full, sums: true, keepOld: true},
		"full download: snapshot every disk and write all of it")
}

// phase2 is the downtime: shut the Azure VMs down, run the pass spec
// says on every disk, verify, start on premises.
func (j *job) phase2(ctx context.Context, spec passSpec, what string) error {
	// Before the downtime starts: an on-premises VM that runs now stops
	// the job while the Azure VMs still run.
	if err := j.recheckOnPrem(ctx, "shutting the Azure VMs down"); err != nil {
		return err
	}
	if err := j.markDowntimeStart(); err != nil {
		return err
	}
	j.downtimeBegins()
	if err := j.timed(stepShutdown, func() error { return j.shutdownAzure(ctx) }); err != nil {
		return err
	}
	if err := j.setState(StatePhase2); err != nil {
		return err
	}
	if err := j.hook(ctx, "phase2"); err != nil {
		return err
	}
	j.info("phase2", "%s", what)
	if err := j.recheckOnPrem(ctx, "the "+spec.kind+" pass"); err != nil {
		return err
	}
	// Every disk's final snapshot at once (the disks no longer change,
	// and a snapshot is a short call), then the passes, as many at once
	// as the downtime allows.
	n := j.m.deps.DowntimeParallel
	if err := j.timed(stepSnapshot, func() error {
		return j.eachDiskAzure(ctx, max(n, snapshotParallel), func(ctx context.Context, k diskKey) error { return j.snapshotPass(ctx, k, spec) })
	}); err != nil {
		return err
	}
	// The transfer's Azure side first, every disk at once as the
	// snapshots: the changes listed and read access to the final snapshot
	// granted, held until the disk is verified. Then the moves, each in a
	// turn of its host's mover that no ARM call waits in.
	holds := &grantHolds{}
	defer holds.end()
	if err := j.timed(stepTransfer, func() error {
		if err := j.eachDiskAzure(ctx, max(n, snapshotParallel), func(ctx context.Context, k diskKey) error { return j.prepareFinal(ctx, k, spec, holds) }); err != nil {
			return err
		}
		return j.eachDiskN(ctx, n, func(ctx context.Context, k diskKey) error { return j.runPass(ctx, k, spec) })
	}); err != nil {
		return err
	}
	return j.finish(ctx)
}

// prepareFinal is the Azure side of disk k's pass in phase 2: its record,
// read access to its snapshot (held in holds), and its ranges.
func (j *job) prepareFinal(ctx context.Context, k diskKey, spec passSpec, holds *grantHolds) error {
	d := j.snap().VMs[k.v].Disks[k.d]
	disk, err := j.openDisk(ctx, d)
	if err != nil {
		return fmt.Errorf("%s: %w", d.name(), err)
	}
	pr, done, err := j.passRecordFor(ctx, k, disk, spec)
	if err != nil || done {
		return err
	}
	if err := holds.add(ctx, disk, pr.Snapshot); err != nil {
		return fmt.Errorf("read access to the final snapshot of %s: %w", d.name(), err)
	}
	_, _, _, err = j.preparePass(ctx, k, disk, spec)
	return err
}

// grantHolds keeps phase 2's final snapshots readable from their diffs
// to their verification (azure.HoldSnapshots): the diff, the sync and
// the verification of a disk share one grant instead of granting and
// revoking access for each, during the downtime.
type grantHolds struct {
	mu      sync.Mutex
	release []func()
}

func (h *grantHolds) add(ctx context.Context, disk azure.VMDisk, snapshot string) error {
	release, err := azure.HoldSnapshots(ctx, disk, snapshot)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.release = append(h.release, release)
	h.mu.Unlock()
	return nil
}

// end lets go of every grant held, snapshotParallel at a time (each
// revocation is an ARM operation).
func (h *grantHolds) end() {
	h.mu.Lock()
	rel := h.release
	h.release = nil
	h.mu.Unlock()
	sem := make(chan struct{}, snapshotParallel)
	var wg sync.WaitGroup
	for _, f := range rel {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f()
		}()
	}
	wg.Wait()
}

// snapshotParallel bounds the final snapshots taken at once (ARM calls).
const snapshotParallel = 16

// finish verifies and starts the on-premises VMs: the end of phase 2.
func (j *job) finish(ctx context.Context) error {
	if err := j.setState(StateVerify); err != nil {
		return err
	}
	if err := j.hook(ctx, "verify"); err != nil {
		return err
	}
	if err := j.timed(stepVerify, func() error { return j.eachDiskN(ctx, j.m.deps.DowntimeParallel, j.verifyDisk) }); err != nil {
		return err
	}
	if err := j.timed(stepStart, func() error { return j.startOnPrem(ctx) }); err != nil {
		return err
	}
	if err := j.markDowntimeEnd(); err != nil {
		return err
	}
	j.downtimeEnds()
	j.pruneAll(ctx)
	if err := j.setState(StatePendingCommit); err != nil {
		return err
	}
	j.info("pending-commit", "the on-premises VMs run: check them, then Commit (deletes the Azure VMs, keeps the disk blobs) or Undo")
	return nil
}

// pruneAll deletes every disk's older snapshots of this job, keeping the
// one it holds now (pruneSnapshots), snapshotParallel disks at a time:
// phase 2's passes leave them (keepOld) until the VMs run. A failure only
// warns: commit, cancel and undo delete them too.
func (j *job) pruneAll(ctx context.Context) {
	_ = j.eachDiskAzure(ctx, snapshotParallel, func(ctx context.Context, k diskKey) error {
		d := j.snap().VMs[k.v].Disks[k.d]
		last := d.lastDone()
		if last == nil {
			return nil
		}
		disk, err := j.openDisk(ctx, d)
		if err != nil {
			j.warn("snapshot", "%s %s: old snapshots not deleted yet (%v); commit, cancel or undo deletes them", j.snap().VMs[k.v].Name, d.name(), err)
			return nil
		}
		j.pruneSnapshots(ctx, k, disk, last.Snapshot)
		return nil
	})
}

// verifyDisk compares the target with the last snapshot: the final
// pass's ranges (the earlier passes verified their own when engine.verify
// is on), or the whole disk after a full download when engine.verify is
// on, or when the source computes checksums next to the data (the agent),
// where a whole-disk comparison moves only checksums.
func (j *job) verifyDisk(ctx context.Context, k diskKey) error {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	last := d.lastDone()
	if d.Verified || last == nil {
		return nil
	}
	var ranges []engine.Extent
	switch {
	case last.Mode == engine.Ranges:
		rng, err := loadRanges(j.m.paths.ranges(j.id, vm.Name, k.d, last.N))
		if err != nil {
			return err
		}
		if len(rng) == 0 {
			return j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Verified = true })
		}
		ranges = rng
	case !j.m.cfg.Engine.Verify:
		j.info("verify", "%s %s: not verified (engine.verify = false)", vm.Name, d.name())
		return j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Verified = true })
	}
	disk, err := j.openDisk(ctx, d)
	if err != nil {
		return err
	}
	e := j.engineOptions()
	c, err := j.onPrem(k).Verify(ctx, passSource{k: k, vm: vm.Name, d: d, disk: disk, snap: last.Snapshot},
		mover.VerifyOptions{BlockSize: e.BlockSize, Threads: e.Threads, MemoryLimit: e.MemoryLimit, Ranges: ranges, BandwidthLimit: e.BandwidthLimit, Bandwidth: e.Bandwidth},
		j.m.cfg.Engine.Verify, func(p engine.Progress) { j.setProgress(k, diskVerify, p) })
	if err != nil {
		return fmt.Errorf("verify %s %s: %w", vm.Name, d.name(), err)
	}
	j.setDiskPhase(k, diskDone, "")
	j.info("verify", "%s %s: %d blocks verified against snapshot %s", vm.Name, d.name(), c.BlocksVerified, last.Snapshot)
	return j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Verified = true })
}

// hostParallel bounds the scripts run at once on one Hyper-V host (an
// SSH connection serves a few sessions at a time).
const hostParallel = 4

// eachVMOf runs f for the VMs vms (indices) of the job in parallel, at
// most hostParallel at a time on one host, and joins their errors.
func (j *job) eachVMOf(ctx context.Context, vms []int, f func(ctx context.Context, v int, vm vmRecord) error) error {
	r := j.snap()
	hosts := map[string]chan struct{}{}
	for _, v := range vms {
		if hosts[r.VMs[v].Host] == nil {
			hosts[r.VMs[v].Host] = make(chan struct{}, hostParallel)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(vms))
	for i, v := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := hosts[r.VMs[v].Host]
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[i] = f(ctx, v, r.VMs[v])
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// eachVM runs f for every VM of the job in parallel.
func (j *job) eachVM(ctx context.Context, f func(ctx context.Context, v int, vm vmRecord) error) error {
	r := j.snap()
	var wg sync.WaitGroup
	errs := make([]error, len(r.VMs))
	for i, vm := range r.VMs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(ctx, i, vm)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// shutdownAzure powers off every Azure VM of the job, recording first
// that this job is the one that shut it down (never for a VM that was off
// already), so Cancel and Undo start exactly those again.
func (j *job) shutdownAzure(ctx context.Context) error {
	if err := j.setState(StateShutdown); err != nil {
		return err
	}
	if err := j.hook(ctx, "shutdown"); err != nil {
		return err
	}
	return j.eachVM(ctx, func(ctx context.Context, v int, vm vmRecord) error {
		if vm.AzureOff {
			return nil
		}
		st, err := j.m.deps.Compute.State(ctx, vm.azureVM())
		if err != nil {
			return fmt.Errorf("power state of Azure VM %s: %w", vm.AzureVM, err)
		}
		if st.Off() && !vm.ShutByJob {
			j.info("shutdown", "Azure VM %s was already %s; this job did not shut it down and will not start it", vm.AzureVM, st)
			j.setPower(true, vm.Name, string(st))
			return j.update(func(r *jobRecord) { r.VMs[v].AzureOff = true })
		}
		if err := j.update(func(r *jobRecord) { r.VMs[v].ShutByJob = true }); err != nil {
			return err
		}
		j.setPower(true, vm.Name, "stopping")
		start := time.Now()
		stop := azure.PowerOffOptions{Deallocate: j.m.cfg.Azure.Stop == config.StopDeallocate}
		if err := j.m.deps.Compute.PowerOff(ctx, vm.azureVM(), stop); err != nil {
			return fmt.Errorf("power off Azure VM %s: %w", vm.AzureVM, err)
		}
		j.setPower(true, vm.Name, "off (shut down by this job)")
		j.info("shutdown", "Azure VM %s is off (%s); its disks no longer change", vm.AzureVM, time.Since(start).Round(time.Millisecond))
		return j.update(func(r *jobRecord) { r.VMs[v].AzureOff = true })
	})
}

// startOnPrem starts the on-premises VMs group by group in plan order,
// each group once the one before runs.
func (j *job) startOnPrem(ctx context.Context) error {
	if err := j.setState(StateStarting); err != nil {
		return err
	}
	if err := j.hook(ctx, "start"); err != nil {
		return err
	}
	if err := j.recheckOnPrem(ctx, "starting the on-premises VMs"); err != nil {
		return err
	}
	r := j.snap()
	groups, byGroup := vmGroups(&r)
	defer j.setWait("", 0)
	for gi, g := range groups {
		var names []string
		for _, i := range byGroup[g] {
			names = append(names, r.VMs[i].Name)
		}
		// The VMs of a group start together; the next group waits until
		// every one of them runs.
		if err := j.eachVMOf(ctx, byGroup[g], func(ctx context.Context, i int, vm vmRecord) error {
			if err := j.startOne(ctx, i, vm); err != nil {
				return err
			}
			return j.waitStarted(ctx, vm, gi+1, len(groups))
		}); err != nil {
			return err
		}
		j.info("start", "group %d runs on premises: %s", g, strings.Join(names, ", "))
	}
	return nil
}

// vmGroups lists a job's plan groups in start order, and the VMs (by
// index) of each.
func vmGroups(r *jobRecord) ([]int, map[int][]int) {
	byGroup := map[int][]int{}
	var groups []int
	for i, vm := range r.VMs {
		if _, ok := byGroup[vm.Group]; !ok {
			groups = append(groups, vm.Group)
		}
		byGroup[vm.Group] = append(byGroup[vm.Group], i)
	}
	sort.Ints(groups)
	return groups, byGroup
}

func (j *job) startOne(ctx context.Context, i int, vm vmRecord) error {
	h, _, err := j.m.host(vm.Host)
	if err != nil {
		return err
	}
	if err := j.update(func(r *jobRecord) { r.VMs[i].StartedOnPrem = true }); err != nil {
		return err
	}
	got, err := h.GetVM(ctx, vm.Name)
	if err != nil {
		return fmt.Errorf("on-premises VM %s on %s: %w", vm.Name, vm.Host, err)
	}
	if got.State == hyperv.StateRunning {
		return nil
	}
	if err := h.StartVM(ctx, vm.Name); err != nil {
		return fmt.Errorf("start %s on %s: %w", vm.Name, vm.Host, err)
	}
	j.setPower(false, vm.Name, "starting")
	return nil
}

func (j *job) waitRunning(ctx context.Context, vm vmRecord) error {
	h, _, err := j.m.host(vm.Host)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, j.m.deps.StartTimeout)
	defer cancel()
	for {
		got, err := h.GetVM(ctx, vm.Name)
		if err == nil && got.State == hyperv.StateRunning {
			j.setPower(false, vm.Name, "running")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s on %s did not reach Running within %s (last: %v %v): check it on the host", vm.Name, vm.Host, j.m.deps.StartTimeout, got.State, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// createVMs creates the VMs the operator asked to create where they are
// missing, with their disks at the target paths (the host creates them,
// dynamic VHDX of the blob's size, and removes what it made on failure).
func (j *job) createVMs(ctx context.Context) error {
	return j.eachVM(ctx, func(ctx context.Context, v int, vm vmRecord) error {
		if !vm.CreateVM || vm.CreatedVM {
			return nil
		}
		h, _, err := j.m.host(vm.Host)
		if err != nil {
			return err
		}
		if _, err := h.GetVM(ctx, vm.Name); err == nil {
			return nil
		}
		spec := hyperv.VMSpec{Name: vm.Name, Generation: vm.Generation, CPUCount: vm.CPUs, MemoryBytes: vm.Memory, SwitchName: vm.Switch}
		if vm.Spec != nil {
			spec = *vm.Spec
			spec.Disks = nil
		}
		for i, d := range vm.Disks {
			ds := hyperv.DiskSpec{HostPath: d.Image, Controller: controllerFor(vm.Generation, i), VirtualSize: d.Size}
			if vm.Spec != nil && i < len(vm.Spec.Disks) {
				ds.Controller = vm.Spec.Disks[i].Controller
			}
			if ok, _ := j.onPrem(diskKey{v, i}).Exists(ctx); ok {
				ds.Existing = true
			}
			spec.Disks = append(spec.Disks, ds)
		}
		if err := j.update(func(r *jobRecord) { r.VMs[v].CreatedVM = true }); err != nil {
			return err
		}
		if _, _, err := hyperv.EnsureVM(ctx, h, spec, true); err != nil {
			_ = j.update(func(r *jobRecord) { r.VMs[v].CreatedVM = false })
			return fmt.Errorf("create VM %s on %s: %w", vm.Name, vm.Host, err)
		}
		j.info("create", "created VM %s on %s: %s", vm.Name, vm.Host, describeSpec(spec))
		return nil
	})
}

// deleteSnapshots deletes this job's snapshots of a disk except keep.
func (j *job) deleteSnapshots(ctx context.Context, d diskRecord, keep string) (int, error) {
	disk, err := j.openDisk(ctx, d)
	if errors.Is(err, azure.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return j.deleteDiskSnapshots(ctx, disk, keep)
}

// deleteDiskSnapshots deletes this job's snapshots of disk except keep,
// found by their tags, so one a crash left unrecorded goes too.
func (j *job) deleteDiskSnapshots(ctx context.Context, disk azure.VMDisk, keep string) (int, error) {
	snaps, err := disk.ListSnapshots(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range snaps {
		if s.JobID != j.id || s.ID == keep {
			continue
		}
		if err := disk.DeleteSnapshot(ctx, s.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

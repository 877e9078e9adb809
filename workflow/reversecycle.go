package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
)

// A reverse replication cycle reads each VM through a recovery checkpoint
// (hyperv.Cycler): the disk files do not change while they are read, so
// every disk of the VM is sent as of one instant, and the recovery point
// taken afterwards is that instant. Ending the cycle leaves a reference
// point whose change tracking ids tell the next cycle what the guest
// wrote since, so it reads only those ranges instead of the whole disk.

// vmCycle is one VM's frozen view during a cycle.
type vmCycle struct {
	vm     vmRecord
	host   string
	cycler hyperv.Cycler // nil: the host cannot freeze; read live
	c      hyperv.Cycle
	disks  []*hyperv.CycleDisk // by disk index of the record
}

// cycleTag names the checkpoints of this job's cycles.
func (j *job) cycleTag() string { return "failback " + j.id }

// beginCycle freezes VM v for a cycle.
func (j *job) beginCycle(ctx context.Context, vm vmRecord) (*vmCycle, error) {
	h, _, err := j.m.host(vm.Host)
	if err != nil {
		return nil, err
	}
	vc := &vmCycle{vm: vm, host: vm.Host, disks: make([]*hyperv.CycleDisk, len(vm.Disks))}
	cy, ok := h.(hyperv.Cycler)
	if !ok {
		j.warn("reverse", "%s: host %s cannot take checkpoints: its disks are read while the VM runs, so its recovery points are not consistent", vm.Name, vm.Host)
		vc.c.Consistency = hyperv.Live
		return vc, nil
	}
	crash := j.m.cfg.Reverse.CrashConsistent
	c, err := cy.BeginCycle(ctx, vm.Name, hyperv.CycleOptions{Tag: j.cycleTag(), CrashConsistent: crash, Since: vm.RefPoint.RCT})
	if err != nil {
		if errors.Is(err, hyperv.ErrBadState) && !crash {
			return nil, fmt.Errorf("%s: no application-consistent checkpoint of %s on %s: %w; turn on the guest's Backup integration service (Get-VMIntegrationService -VMName %s), or accept crash-consistent recovery points with [reverse] crash_consistent = true",
				vm.Name, vm.Name, vm.Host, err, psq(vm.Name))
		}
		return nil, fmt.Errorf("%s: freeze the VM on %s for a consistent read: %w", vm.Name, vm.Host, err)
	}
	vc.cycler, vc.c = cy, c
	if len(c.Removed) > 0 {
		j.info("reverse", "%s: removed the checkpoint %s an interrupted cycle left on %s", vm.Name, strings.Join(c.Removed, ", "), vm.Host)
	}
	for i := range c.Disks {
		cd := &c.Disks[i]
		found := false
		for di, d := range vm.Disks {
			if strings.EqualFold(d.Image, cd.Path) {
				vc.disks[di], found = cd, true
			}
		}
		if err := cd.CheckFrozen(vm.Name); err != nil && found {
			vc.end(context.WithoutCancel(ctx), j, false)
			return nil, err
		}
	}
	for di, d := range vm.Disks {
		if vc.disks[di] == nil {
			vc.end(context.WithoutCancel(ctx), j, false)
			return nil, fmt.Errorf("%s: the disk %s is no longer attached to the VM on %s: reverse replication sends the disks failback wrote; attach it again, or stop reverse replication", vm.Name, d.Image, vm.Host)
		}
	}
	return vc, nil
}

// end removes the cycle's checkpoint; with keep it becomes a reference
// point (returned), and the one the last recorded cycle ended with is
// dropped. A failure is logged: the checkpoint is removed by the next
// cycle.
func (vc *vmCycle) end(ctx context.Context, j *job, keep bool) hyperv.RefPoint {
	if vc.cycler == nil {
		return hyperv.RefPoint{}
	}
	var drop []string
	if old := vc.vm.RefPoint.ID; old != "" {
		drop = append(drop, old)
	}
	rp, err := vc.cycler.EndCycle(ctx, vc.vm.Name, vc.c, hyperv.CycleEnd{Keep: keep, Drop: drop})
	if err != nil {
		j.warn("reverse", "%s: the recovery checkpoint %s on %s was not removed: %v; the next cycle removes it (or by hand: Get-VMCheckpoint -VMName %s | Remove-VMCheckpoint)",
			vc.vm.Name, vc.c.Checkpoint, vc.host, err, psq(vc.vm.Name))
		return vc.vm.RefPoint
	}
	return rp
}

// reverseVM runs one cycle for VM v: freeze, send each disk's changes,
// take the recovery point, end the cycle and record where the next one
// starts.
func (j *job) reverseVM(ctx context.Context, v int, vm vmRecord) error {
	vc, err := j.beginCycle(ctx, vm)
	if err != nil {
		return fmt.Errorf("reverse replication: %w", err)
	}
	if err := j.hook(ctx, "reverse-frozen"); err != nil {
		vc.end(context.WithoutCancel(ctx), j, false)
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(vm.Disks))
	for di := range vm.Disks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[di] = j.reverseDisk(ctx, diskKey{v, di}, vc.disks[di])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		vc.end(context.WithoutCancel(ctx), j, false)
		return err
	}
	if err := j.recoveryPoint(ctx, v, j.snap().VMs[v], vc.c.Consistency); err != nil {
		vc.end(context.WithoutCancel(ctx), j, false)
		return err
	}
	rp := vc.end(ctx, j, true)
	// The reference point is recorded only now: a cycle that dies before
	// leaves the previous one, whose changes cover everything since.
	return j.update(func(r *jobRecord) { r.VMs[v].RefPoint = rp })
}

// cycleRanges is what a cycle must look at on one disk: the ranges change
// tracking reports (known), or nothing known and why.
func cycleRanges(cd *hyperv.CycleDisk) (ranges []engine.Extent, known bool, why string) {
	switch {
	case cd == nil:
		return nil, false, "the host cannot track changes"
	case !cd.ChangesKnown:
		return nil, false, cd.Why
	}
	for _, e := range cd.Changed {
		ranges = append(ranges, engine.Extent{Off: e.Off, Len: e.Len})
	}
	return ranges, true, ""
}

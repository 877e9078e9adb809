package workflow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/failback/failback/hyperv"
)

// flowEndTest ends a test failback (End test, or Cancel of a test at any
// moment): the test VMs are turned off and removed, the test disks
// deleted with their test folders, the switches the test created removed,
// the job's snapshots deleted and its journals discarded. The VMs' own
// disks were only read and the Azure VMs never stopped: nothing else
// changes. Each removal is recorded, so ending again after an
// interruption finishes the job.
func (j *job) flowEndTest(ctx context.Context) error {
	if err := j.setState(StateEndingTest); err != nil {
		return err
	}
	if err := j.hook(ctx, "end-test"); err != nil {
		return err
	}
	if err := j.removeTestVMs(ctx); err != nil {
		return err
	}
	if err := j.eachDisk(ctx, j.removeTestDisk); err != nil {
		return err
	}
	if err := j.removeTestFolders(ctx); err != nil {
		return err
	}
	if err := j.removeTestSwitches(ctx); err != nil {
		return err
	}
	if err := j.cleanUp(ctx, true); err != nil {
		return err
	}
	if err := j.setState(StateTestEnded); err != nil {
		return err
	}
	j.info("test-ended", "test ended: the test VMs, test disks and test switches it made are removed; the on-premises VMs' disks were only read, and the Azure VMs kept running")
	return nil
}

// removeTestVMs removes the test VMs, last group first.
func (j *job) removeTestVMs(ctx context.Context) error {
	r := j.snap()
	idx := make([]int, len(r.VMs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return r.VMs[idx[a]].Group > r.VMs[idx[b]].Group })
	for _, i := range idx {
		vm := r.VMs[i]
		tv := vm.Test
		if tv == nil || tv.Removed || !tv.Creating && !tv.Created {
			continue
		}
		th, err := j.testHost(vm)
		if err != nil {
			return err
		}
		// Turned off, not shut down: what the test VM wrote is thrown away.
		_, err = th.ShutdownVM(ctx, tv.Name, time.Second)
		if err == nil {
			err = th.RemoveVM(ctx, tv.Name, false) // its disks go through the test disks' seam
		}
		if err != nil && !errors.Is(err, hyperv.ErrVMNotFound) {
			return fmt.Errorf("remove test VM %s on %s: %w", tv.Name, tv.Host, err)
		}
		j.setPower(false, vm.Name, "off (test VM removed)")
		j.info("end-test", "test VM %s removed from %s", tv.Name, tv.Host)
		if err := j.update(func(r *jobRecord) { r.VMs[i].Test.Removed = true }); err != nil {
			return err
		}
	}
	return nil
}

// removeTestDisk deletes disk k's test disk.
func (j *job) removeTestDisk(ctx context.Context, k diskKey) error {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	if d.Test == nil || d.Test.Removed || !d.Test.Creating && !d.Test.Created {
		return nil
	}
	if err := j.testDisk(k).Remove(ctx); err != nil {
		return fmt.Errorf("%s: %w", vm.Name, err)
	}
	j.info("end-test", "%s %s: test disk %s deleted", vm.Name, d.name(), d.Test.Image)
	return j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Test.Removed = true })
}

// removeTestSwitches removes the switches this test created.
func (j *job) removeTestSwitches(ctx context.Context) error {
	for i, s := range j.snap().Test.Switches {
		if !s.Created || s.Removed { // only a switch this test made
			continue
		}
		th, err := j.testHostNamed(s.Host)
		if err != nil {
			return err
		}
		if err := th.RemoveSwitch(ctx, s.Name); err != nil {
			return fmt.Errorf("remove test switch %s on %s: %w", s.Name, s.Host, err)
		}
		j.info("end-test", "test switch %s removed from %s", s.Name, s.Host)
		if err := j.update(func(r *jobRecord) { r.Test.Switches[i].Removed = true }); err != nil {
			return err
		}
	}
	return nil
}

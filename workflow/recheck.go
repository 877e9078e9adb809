package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
)

// The on-premises VM through the whole job. Phase 1 can run for days, and
// the passes after it rewrite only what changed in Azure: anything written
// on premises in between (the VM started by someone, its disk mounted, a
// checkpoint taken and merged) would never be corrected. So the VMs are
// checked again before every pass, at Complete failover and before they
// are started. One that is not Off, has a checkpoint, or whose disk is in
// use stops the job with what to do; the job remembers it, and once the
// VM is Off again (on resume) every block of its disks is compared with
// the Azure snapshot again before the job goes on.

// discardSavedStates turns off the VMs found Saved or Paused at pre-flight
// whose memory state the operator chose to discard.
func (j *job) discardSavedStates(ctx context.Context) error {
	return j.eachVM(ctx, func(ctx context.Context, v int, vm vmRecord) error {
		if !vm.DiscardState || vm.StateDiscarded {
			return nil
		}
		h, _, err := j.m.host(vm.Host)
		if err != nil {
			return err
		}
		if err := h.DiscardSavedState(ctx, vm.Name); err != nil {
			return fmt.Errorf("discard the saved state of %s on %s: %w", vm.Name, vm.Host, err)
		}
		j.info("discard", "%s on %s: its saved memory state was discarded (the operator's choice); it is off and will boot from the synchronised disks", vm.Name, vm.Host)
		return j.update(func(r *jobRecord) { r.VMs[v].StateDiscarded = true })
	})
}

// recheckOnPrem checks every on-premises VM not started by the job yet,
// before when ("catch-up pass 2"), then compares again the disks of those
// that changed earlier and are Off now.
func (j *job) recheckOnPrem(ctx context.Context, when string) error {
	r := j.snap()
	var errs []error
	for v, vm := range r.VMs {
		if vm.StartedOnPrem {
			continue
		}
		if err := j.recheckVM(ctx, v, vm, when); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return j.compareChanged(ctx)
}

// recheckVM checks one VM; an error stops the job and says what to do.
func (j *job) recheckVM(ctx context.Context, v int, vm vmRecord, when string) error {
	h, _, err := j.m.host(vm.Host)
	if err != nil {
		return err
	}
	got, err := h.GetVM(ctx, vm.Name)
	switch {
	case errors.Is(err, hyperv.ErrVMNotFound) && vm.CreateVM && !vm.CreatedVM:
		return nil // created later
	case err != nil:
		return fmt.Errorf("on-premises VM %s on %s, checked before %s: %w", vm.Name, vm.Host, when, err)
	}
	var what, fix string
	switch {
	case len(got.Checkpoints) > 0:
		what = fmt.Sprintf("has %d checkpoint(s)", len(got.Checkpoints))
		fix = "delete them on " + vm.Host + " (Get-VMCheckpoint -VMName " + psq(vm.Name) + " | Remove-VMCheckpoint, which merges them) and wait for the merge to end"
	case got.State != hyperv.StateOff:
		what = "is " + string(got.State)
		fix = "shut it down on " + vm.Host + " (Stop-VM -Name " + psq(vm.Name) + ")"
	default:
		for _, d := range vm.Disks {
			use, err := h.DiskInUse(ctx, d.Image)
			if err != nil {
				return fmt.Errorf("on-premises disk %s on %s, checked before %s: %w", d.Image, vm.Host, when, err)
			}
			if use.InUse {
				what = "has its disk " + d.Image + " in use (" + use.Reason + ")"
				fix = "stop what uses it on " + vm.Host
				break
			}
		}
	}
	if what == "" {
		return nil
	}
	if err := j.update(func(r *jobRecord) {
		if r.VMs[v].OnPremChanged == "" {
			r.VMs[v].OnPremChanged = when
			r.VMs[v].Compares++
		}
	}); err != nil {
		return err
	}
	return &onPremChangedError{fmt.Sprintf("on-premises VM %s on %s %s (checked before %s): whatever it writes on premises would stay, since the passes that follow copy only what changed in Azure. "+
		"%s, then resume the job: it first compares every block of the VM's disks with Azure again. Or cancel the job (that rolls back the job's writes, not the VM's)",
		vm.Name, vm.Host, what, when, upperFirst(fix))}
}

// onPremChangedError stops the job for the operator: retrying (as phase 2
// does after other failures) cannot help until someone acts on the host.
type onPremChangedError struct{ msg string }

func (e *onPremChangedError) Error() string { return e.msg }

// compareChanged runs a compare pass (delta: every block) on the disks of
// each VM that changed on premises during the job and passed its check now.
func (j *job) compareChanged(ctx context.Context) error {
	for v, vm := range j.snap().VMs {
		if vm.OnPremChanged == "" {
			continue
		}
		j.warn("compare", "%s: its disks may have changed on premises (found before %s): comparing every block with the Azure snapshot again", vm.Name, vm.OnPremChanged)
		spec := passSpec{kind: passCompare, round: vm.Compares, mode: engine.Delta, verify: j.m.cfg.Engine.Verify}
		err := j.eachDisk(ctx, func(ctx context.Context, k diskKey) error {
			if k.v != v {
				return nil
			}
			return j.runPass(ctx, k, spec)
		})
		if err != nil {
			return err
		}
		if err := j.update(func(r *jobRecord) {
			r.VMs[v].OnPremChanged = ""
			for d := range r.VMs[v].Disks {
				r.VMs[v].Disks[d].Verified = false
			}
		}); err != nil {
			return err
		}
		j.info("compare", "%s: every block of its disks holds the Azure snapshot again", vm.Name)
	}
	return nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

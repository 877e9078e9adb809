package workflow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
)

// flowTest is a test failback's start flow (testfailback.go): test disks,
// phase 1 and catch-up into them, the measured final pass, test VMs
// started and checked. Every step is idempotent, as flowStart's are.
func (j *job) flowTest(ctx context.Context) error {
	if err := j.testStep(ctx, "make the test disks", j.makeTestDisks); err != nil {
		return err
	}
	if err := j.testStep(ctx, "phase 1 and catch-up into the test disks", j.deltaPasses); err != nil {
		return err
	}
	if err := j.testStep(ctx, "final pass (measured: a real failback runs it with the Azure VMs off)", j.measureFinal); err != nil {
		return err
	}
	if err := j.testStep(ctx, "start and check the test VMs", j.startTestVMs); err != nil {
		return err
	}
	if err := j.setState(StateTesting); err != nil {
		return err
	}
	r := j.snap()
	var names []string
	for _, v := range r.VMs {
		names = append(names, v.Test.Name+" on "+v.Test.Host)
	}
	j.info("testing", "the test VMs run (%s); the Azure VMs keep running. Check them, then End test removes the test VMs, their disks and the switch the test created", strings.Join(names, ", "))
	return nil
}

// testStep runs f as the timed step name, unless it finished before.
func (j *job) testStep(ctx context.Context, name string, f func(context.Context) error) error {
	r := j.snap()
	i := slices.IndexFunc(r.Test.Steps, func(s testStep) bool { return s.Name == name })
	if i >= 0 && !r.Test.Steps[i].End.IsZero() {
		return nil
	}
	if err := j.update(func(r *jobRecord) {
		if i >= 0 {
			r.Test.Steps[i].Resumed = true
			return
		}
		r.Test.Steps = append(r.Test.Steps, testStep{Name: name, Start: j.m.now()})
	}); err != nil {
		return err
	}
	if err := f(ctx); err != nil {
		return err
	}
	return j.update(func(r *jobRecord) {
		k := slices.IndexFunc(r.Test.Steps, func(s testStep) bool { return s.Name == name })
		r.Test.Steps[k].End = j.m.now()
	})
}

// makeTestDisks makes every disk's test disk.
func (j *job) makeTestDisks(ctx context.Context) error {
	return j.eachDisk(ctx, func(ctx context.Context, k diskKey) error {
		r := j.snap()
		vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
		if d.Test.Created {
			return nil
		}
		td := j.testDisk(k)
		if d.Test.Creating {
			// A crash while it was being made: start it again.
			if err := td.Remove(ctx); err != nil {
				return err
			}
		}
		if err := j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Test.Creating = true }); err != nil {
			return err
		}
		j.setDiskPhase(k, diskTransfer, "")
		if err := td.Create(ctx); err != nil {
			if errors.Is(err, fs.ErrExist) {
				// Someone else's file: End test must not delete it.
				_ = j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Test.Creating = false })
			}
			j.setDiskPhase(k, diskFailed, err.Error())
			return fmt.Errorf("%s: test disk %s: %w", vm.Name, d.Test.Image, err)
		}
		j.setDiskPhase(k, diskWaiting, "")
		how := "a differencing disk over " + d.Image + ", which is only read"
		if d.Test.Mode == testCopy {
			how = "a copy of " + d.Image + " (" + d.Test.Why + ")"
		}
		j.info("test-disk", "%s %s: test disk %s made: %s", vm.Name, d.name(), d.Test.Image, how)
		return j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Test.Created = true })
	})
}

// measureFinal runs and times the pass a real failback runs during its
// downtime: a snapshot of every disk, the changes since the last pass,
// verified. The Azure VMs keep running.
func (j *job) measureFinal(ctx context.Context) error {
	if err := j.setState(StateTestFinal); err != nil {
		return err
	}
	if err := j.hook(ctx, "test-final"); err != nil {
		return err
	}
	if err := j.recheckOnPrem(ctx, "the measured final pass"); err != nil {
		return err
	}
	resumed := false
	for _, v := range j.snap().VMs {
		for _, d := range v.Disks {
			resumed = resumed || slices.ContainsFunc(d.Passes, func(p passRecord) bool { return p.Kind == passTestFinal })
		}
	}
	j.info("test-final", "the final pass a real failback runs with the Azure VMs off, measured now with them running: snapshot, the changes since the last pass, verify")
	start := time.Now()
	spec := passSpec{kind: passTestFinal, mode: engine.Ranges, verify: true}
	if err := j.eachDisk(ctx, func(ctx context.Context, k diskKey) error { return j.runPass(ctx, k, spec) }); err != nil {
		return err
	}
	took := time.Since(start)
	var moved int64
	for _, v := range j.snap().VMs {
		for _, d := range v.Disks {
			for _, p := range d.Passes {
				if p.Kind == passTestFinal && p.Done {
					moved += p.Stats.BytesTransferred
				}
			}
		}
	}
	note := ""
	if resumed {
		note = " (the pass was interrupted and resumed: the time includes the interruption)"
	}
	j.info("test-final", "final pass measured: %s moved in %s%s; a real failback's downtime is that plus shutting the Azure VMs down and starting the VMs on premises",
		bytesText(moved), took.Round(time.Millisecond), note)
	return j.update(func(r *jobRecord) { r.Test.Final = &testFinal{Took: took, Bytes: moved, Resumed: resumed} })
}

// testHost is the TestHost the test VM of VM v runs on.
func (j *job) testHost(v vmRecord) (hyperv.TestHost, error) { return j.testHostNamed(v.Test.Host) }

// testHostNamed is the TestHost of a config name.
func (j *job) testHostNamed(name string) (hyperv.TestHost, error) {
	h, _, err := j.m.host(name)
	if err != nil {
		return nil, err
	}
	th, ok := h.(hyperv.TestHost)
	if !ok {
		return nil, fmt.Errorf("%s cannot run test VMs", h.Describe())
	}
	return th, nil
}

// startTestVMs makes the test switches and VMs, then starts the VMs group
// by group, each group once the one before runs and is checked.
func (j *job) startTestVMs(ctx context.Context) error {
	if err := j.setState(StateTestStarting); err != nil {
		return err
	}
	if err := j.hook(ctx, "test-vms"); err != nil {
		return err
	}
	if err := j.ensureTestSwitches(ctx); err != nil {
		return err
	}
	if err := j.eachVM(ctx, j.createTestVM); err != nil {
		return err
	}
	r := j.snap()
	groups, byGroup := vmGroups(&r)
	for _, g := range groups {
		var names []string
		for _, i := range byGroup[g] {
			names = append(names, r.VMs[i].Test.Name)
			if err := j.startTestVM(ctx, i); err != nil {
				return err
			}
		}
		for _, i := range byGroup[g] {
			if err := j.checkTestVM(ctx, i); err != nil {
				return err
			}
		}
		j.info("test-start", "group %d started and checked: %s", g, strings.Join(names, ", "))
	}
	return nil
}

// ensureTestSwitches makes sure every test host has its test switch.
func (j *job) ensureTestSwitches(ctx context.Context) error {
	for i, s := range j.snap().Test.Switches {
		th, err := j.testHostNamed(s.Host)
		if err != nil {
			return err
		}
		typ := s.Type
		if typ == "" || typ == hyperv.SwitchExternal {
			typ = hyperv.SwitchPrivate
		}
		sw, created, err := th.EnsureSwitch(ctx, s.Name, typ)
		if err != nil {
			return fmt.Errorf("test switch %s on %s: %w", s.Name, s.Host, err)
		}
		if sw.Type == hyperv.SwitchExternal {
			return fmt.Errorf("test switch %s on %s is External now: the test VMs would join the production network; end the test and choose another switch", s.Name, s.Host)
		}
		if created {
			j.info("test-switch", "test switch %s created on %s (%s); End test removes it", s.Name, s.Host, sw.Type)
		}
		if !created && !s.Created && s.Owned {
			j.warn("test-switch", "test switch %s on %s exists although the pre-flight found none: this test did not make it, so End test keeps it", s.Name, s.Host)
		}
		if err := j.update(func(r *jobRecord) {
			ts := &r.Test.Switches[i]
			ts.Created, ts.Owned, ts.Type = ts.Created || created, ts.Owned || created, sw.Type
		}); err != nil {
			return err
		}
	}
	return nil
}

// createTestVM creates VM v's test VM (once).
func (j *job) createTestVM(ctx context.Context, v int, vm vmRecord) error {
	tv := vm.Test
	if tv.Created {
		return nil
	}
	th, err := j.testHost(vm)
	if err != nil {
		return err
	}
	_, getErr := th.GetVM(ctx, tv.Name)
	if getErr == nil && !tv.Creating {
		// Not this test's: never adopted, turned off or removed by it.
		return fmt.Errorf("a VM named %s exists on %s and this test did not make it: rename or remove it, or end this test", tv.Name, tv.Host)
	}
	if err := j.update(func(r *jobRecord) { r.VMs[v].Test.Creating = true }); err != nil {
		return err
	}
	if getErr == nil {
		j.info("test-vm", "test VM %s on %s was created before the interruption", tv.Name, tv.Host)
	} else if _, err := th.CreateVM(ctx, tv.Spec); err != nil {
		if errors.Is(err, hyperv.ErrVMExists) {
			// Made by someone else meanwhile: it is not this test's.
			_ = j.update(func(r *jobRecord) { r.VMs[v].Test.Creating = false })
		}
		return fmt.Errorf("create test VM %s on %s: %w", tv.Name, tv.Host, err)
	} else {
		j.info("test-vm", "test VM %s created on %s: %s", tv.Name, tv.Host, describeSpec(tv.Spec))
	}
	return j.update(func(r *jobRecord) { r.VMs[v].Test.Created = true })
}

// startTestVM starts VM v's test VM, recording first that this test
// started it.
func (j *job) startTestVM(ctx context.Context, v int) error {
	vm := j.snap().VMs[v]
	th, err := j.testHost(vm)
	if err != nil {
		return err
	}
	if err := j.update(func(r *jobRecord) { r.VMs[v].Test.Started = true }); err != nil {
		return err
	}
	if err := th.StartVM(ctx, vm.Test.Name); err != nil {
		return fmt.Errorf("start test VM %s on %s: %w", vm.Test.Name, vm.Test.Host, err)
	}
	j.setPower(false, vm.Name, "test VM "+vm.Test.Name+" starting")
	return nil
}

// checkTestVM makes the checks after start, each recorded as it is made
// (the console and status show them live): running, heartbeat, each TCP
// port. A failed check is reported, never a reason to stop the test.
func (j *job) checkTestVM(ctx context.Context, v int) error {
	vm := j.snap().VMs[v]
	th, err := j.testHost(vm)
	if err != nil {
		return err
	}
	if err := j.update(func(r *jobRecord) { r.VMs[v].Test.Checks = nil }); err != nil {
		return err
	}
	add := func(c TestCheck) error {
		if !c.OK && !c.Skipped {
			j.warn("test-check", "%s: %s: %s", vm.Test.Name, c.What, c.Detail)
		}
		return j.update(func(r *jobRecord) { r.VMs[v].Test.Checks = append(r.VMs[v].Test.Checks, c) })
	}
	wait := j.m.deps.StartTimeout
	start := time.Now()
	ok, detail := pollCheck(ctx, wait, func() (bool, string, error) {
		c, err := th.CheckVM(ctx, vm.Test.Name, nil, time.Second)
		return c.State == hyperv.StateRunning, string(c.State), err
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	running := TestCheck{What: "running", OK: ok, At: j.m.now(), Took: time.Since(start), Detail: detail}
	if err := add(running); err != nil {
		return err
	}
	if running.OK {
		j.setPower(false, vm.Name, "test VM "+vm.Test.Name+" running")
	}
	hbStart := time.Now()
	hb := TestCheck{What: "heartbeat", Skipped: !running.OK, Detail: "the VM does not run"}
	if running.OK {
		// The same check as started_when = "heartbeat" (startwait.go).
		hb.OK, hb.Detail = pollCheck(ctx, wait, func() (bool, string, error) { return th.Heartbeat(ctx, vm.Test.Name) })
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	hb.At, hb.Took = j.m.now(), time.Since(hbStart)
	if err := add(hb); err != nil {
		return err
	}
	if len(vm.Test.Ports) == 0 {
		return nil
	}
	portStart := time.Now()
	pc, err := th.CheckVM(ctx, vm.Test.Name, vm.Test.Ports, 3*time.Second)
	took := time.Since(portStart)
	for _, port := range vm.Test.Ports {
		c := TestCheck{What: fmt.Sprintf("TCP port %d", port), At: j.m.now(), Took: took}
		k := slices.IndexFunc(pc.Ports, func(p hyperv.PortOpen) bool { return p.Port == port })
		switch {
		case err != nil:
			c.Detail = err.Error()
		case k < 0:
			c.Detail = "not reported by the host"
		default:
			p := pc.Ports[k]
			c.OK, c.Detail = p.Open, p.Detail
			if p.Open {
				c.Detail = "answers at " + p.Address
			}
		}
		if err := add(c); err != nil {
			return err
		}
	}
	return nil
}

// pollCheck asks check until it holds or wait ends; it returns whether it
// held and the last answer (or, when it never held, why).
func pollCheck(ctx context.Context, wait time.Duration, check func() (bool, string, error)) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		ok, detail, err := check()
		if err == nil && ok {
			return true, detail
		}
		if err != nil {
			detail = err.Error()
		}
		select {
		case <-ctx.Done():
			return false, fmt.Sprintf("not within %s (last: %s)", wait, detail)
		case <-time.After(testPoll):
		}
	}
}

// testPoll is how often the checks after start ask the host again.
var testPoll = 2 * time.Second

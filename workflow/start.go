package workflow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Errors front ends test with errors.Is.
var (
	// ErrPreflight: Start refused because the pre-flight found problems
	// (a *PreflightError lists them).
	ErrPreflight = errors.New("pre-flight found problems")
	// ErrUnknownJob: no job has that id.
	ErrUnknownJob = errors.New("no such job")
	// ErrRefused: the action does not apply to the job now (the message
	// says why).
	ErrRefused = errors.New("action not possible now")
	// ErrReadOnly: a read-only Manager (Deps.ReadOnly) neither starts nor
	// moves jobs.
	ErrReadOnly = errors.New("read-only view of the jobs: start the console or failback serve, or run the script command, to act")
)

// PreflightError is Start's refusal: every failed check, with its fix.
type PreflightError struct{ Report PreflightReport }

func (e *PreflightError) Error() string {
	var b strings.Builder
	b.WriteString("pre-flight failed; nothing was written:")
	for _, c := range e.Report.Checks {
		if c.OK {
			continue
		}
		b.WriteString("\n  ")
		if c.VM != "" {
			b.WriteString(c.VM + ": ")
		}
		b.WriteString(c.What + ": " + c.Detail)
		if c.Fix != "" {
			b.WriteString(" -> " + c.Fix)
		}
	}
	return b.String()
}

// Unwrap lets errors.Is find ErrPreflight.
func (e *PreflightError) Unwrap() error { return ErrPreflight }

func notAllowed(who Actor) error {
	if who.Role == RoleOperator {
		return nil
	}
	return fmt.Errorf("%s (%s): %w", who.Name, who.Role, ErrNotAllowed)
}

// Start implements Service: it runs the pre-flight and, only when every
// check passed, records the job and sets it going in the background.
func (m *Manager) Start(ctx context.Context, c Choices, who Actor) (string, error) {
	if err := notAllowed(who); err != nil {
		return "", err
	}
	if m.deps.ReadOnly {
		return "", ErrReadOnly
	}
	if c.Location == "" {
		c.Location = LocOriginal
	}
	if c.Location == LocOriginal {
		c.AltHost = ""
	}
	m.startMu.Lock()
	defer m.startMu.Unlock()
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return "", errors.New("the workflow is shutting down")
	}
	p, err := m.prepare(ctx, c)
	if err != nil {
		return "", err
	}
	if !p.rep.OK {
		if p.unlocked != nil {
			p.unlocked.Destroy()
		}
		return "", &PreflightError{Report: p.rep}
	}
	rec, err := m.newRecord(ctx, p, c, who)
	if err != nil {
		p.unlocked.Destroy()
		return "", err
	}
	j := newJob(m, rec)
	if p.unlocked != nil {
		// The job keeps the data keys it is about to use, never the
		// certificate's private key (see job.unlocked).
		j.unlocked(p.unlocked)
	}
	if err := m.paths.saveRecord(rec); err != nil {
		return "", err
	}
	m.mu.Lock()
	m.jobs[rec.ID] = j
	m.mu.Unlock()
	what := fmt.Sprintf("sync %s, location %s%s", c.Sync, c.Location, map[bool]string{true: " (" + c.AltHost + ")", false: ""}[c.AltHost != ""])
	if c.Test {
		what = "TEST failback (the Azure VMs keep running; test disks and test VMs only)"
	}
	j.record(&who, "info", "start", "accepted", fmt.Sprintf("job %s started by %s: %s, %s", rec.ID, who.Name, rec.Title, what))
	j.info("preflight", "pre-flight passed: %d checks", len(p.rep.Checks))
	for _, c := range p.rep.Checks {
		if c.Warning {
			j.warn("preflight", "%s: %s: %s; %s", c.VM, c.What, c.Detail, c.Fix)
		}
	}
	j.kick()
	return rec.ID, nil
}

// jobTaken says whether a job id is in use: loaded, or a folder in the
// state folder (a record that could not be read still owns its name).
func (m *Manager) jobTaken(id string) bool {
	m.mu.Lock()
	_, ok := m.jobs[id]
	m.mu.Unlock()
	if ok {
		return true
	}
	_, err := os.Lstat(m.paths.job(id))
	return err == nil
}

// newRecord turns a passed pre-flight into a job record.
func (m *Manager) newRecord(ctx context.Context, p *prepared, c Choices, who Actor) (*jobRecord, error) {
	now := m.now()
	id := newJobID(now, rand.Reader, m.jobTaken)
	enc := map[string]bool{}
	for _, d := range p.encrypted {
		enc[d.Name] = true
	}
	rec := &jobRecord{Version: recordVersion, ID: id, Title: p.title, Choices: c, Owner: who,
		Created: now, Updated: now, State: StatePreflight, Flow: flowStart}
	for i, t := range p.targets {
		v := vmRecord{Name: t.vm.Name, AzureVM: t.vm.AzureVM, AzureRG: t.vm.ResourceGroup, Group: t.group, Host: t.hostName,
			Mover:  t.hc != nil && t.hc.UsesMover(),
			Switch: t.vm.Switch, CreateVM: c.CreateVM && t.existing == nil,
			DiscardState: c.DiscardSavedState && t.existing != nil && savedOrPaused(t.existing.State)}
		if t.az.info != nil {
			v.NICs = t.az.info.NICs
		}
		var sizes []int64
		for k, d := range t.disks {
			size := p.disks[i][k].Size()
			sizes = append(sizes, size)
			v.Disks = append(v.Disks, diskRecord{Azure: d.ref, Image: d.image,
				Local: d.local, Size: size, Encrypted: enc[cryptName(t.vm.Name, d.ref)]})
		}
		if v.CreateVM {
			spec, err := m.vmSpec(ctx, t, sizes, c)
			if err != nil {
				return nil, err
			}
			v.Generation, v.CPUs, v.Memory = spec.Generation, spec.CPUCount, spec.MemoryBytes
			v.Spec = &spec
		}
		rec.VMs = append(rec.VMs, v)
	}
	if c.Test {
		if err := m.testRecords(ctx, p, rec); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

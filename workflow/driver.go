package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/failback/failback/crypt"
)

var (
	// errSuperseded stops a flow the operator replaced (Cancel during a
	// sync, Complete during catch-up): the driver runs the new flow.
	errSuperseded = errors.New("superseded by the operator's action")
	// errStopReverse ends continuous reverse replication.
	errStopReverse = errors.New("reverse replication stopped by the operator")
)

// kick starts the job's driver unless it runs already. The driver runs
// the record's flow; a flow changed while it runs is picked up when the
// current one returns.
func (j *job) kick() {
	// m.mu is held across the closed check and wg.Add, so Close never
	// waits on a group that grows behind its back.
	j.m.mu.Lock()
	defer j.m.mu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running || j.m.closed {
		return
	}
	j.running = true
	j.done = make(chan struct{})
	j.m.wg.Add(1)
	go j.drive()
}

// supersede changes the record to a new flow and stops the running one,
// in one critical section: the driver reads the flow under the same lock,
// so the stop can only hit the flow being replaced, never the new one.
func (j *job) supersede(f func(r *jobRecord)) error {
	j.mu.Lock()
	f(j.rec)
	j.rec.Updated = j.m.now()
	err := j.m.paths.saveRecord(j.rec)
	if j.cancel != nil {
		j.cancel(errSuperseded)
	}
	j.mu.Unlock()
	j.m.hub.notify()
	return err
}

// interrupt stops the running flow with cause (no-op when idle).
func (j *job) interrupt(cause error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cancel != nil {
		j.cancel(cause)
	}
}

// wait returns a channel closed when the driver stops (nil when idle).
func (j *job) waitCh() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.running {
		return nil
	}
	return j.done
}

func (j *job) drive() {
	defer j.m.wg.Done()
	for {
		j.mu.Lock()
		fl := j.rec.Flow
		ctx, cancel := context.WithCancelCause(j.m.ctx)
		j.cancel = cancel
		j.mu.Unlock()

		err := j.runFlow(ctx, fl)
		if err != nil && j.m.ctx.Err() == nil && context.Cause(ctx) == nil && j.retryDowntime(ctx, err) {
			cancel(nil)
			continue
		}
		cause := context.Cause(ctx)
		cancel(nil)

		j.mu.Lock()
		if j.rec.Flow != fl && j.m.ctx.Err() == nil {
			j.mu.Unlock()
			continue
		}
		j.running, j.cancel = false, nil
		done := j.done
		// The job rests (or the process closes): no flow uses the data
		// keys until the next one, which unwraps them again (j.key).
		keys := j.keys
		j.keys = nil
		j.mu.Unlock()
		destroyKeys(keys)

		switch {
		case err == nil:
		case j.m.ctx.Err() != nil:
			// The process is closing: the state stays as it is on disk,
			// and the next Open marks the job interrupted and resumes it.
		case errors.Is(cause, errStopReverse):
			_ = j.setState(StateCommitted)
			j.info("reverse", "reverse replication stopped; the job rests committed")
		default:
			j.failed(err)
		}
		j.downtimeOver()
		close(done)
		return
	}
}

// failed makes the job rest in failed, keeping where it was.
func (j *job) failed(err error) {
	j.mu.Lock()
	if j.retries > 0 {
		err = fmt.Errorf("%w (phase 2 was tried %d more times over %s)", err, j.retries, j.m.now().Sub(j.retrySince).Round(time.Second))
	}
	j.mu.Unlock()
	_ = j.update(func(r *jobRecord) {
		if r.State != StateFailed {
			r.Was = r.State
		}
		r.State, r.Error = StateFailed, err.Error()
	})
	r := j.snap()
	j.record(nil, "error", "failed", "failed", "failed: "+err.Error()+" ("+j.nextAfterStop(&r)+")")
}

func (j *job) runFlow(ctx context.Context, fl flow) error {
	switch fl {
	case flowStart:
		return j.flowStart(ctx)
	case flowComplete:
		return j.flowComplete(ctx)
	case flowCommit:
		return j.flowCommit(ctx)
	case flowReverse:
		return j.flowReverse(ctx)
	case flowCancel:
		return j.flowCancel(ctx)
	case flowUndo:
		return j.flowUndo(ctx)
	case flowEndTest:
		return j.flowEndTest(ctx)
	}
	return fmt.Errorf("job %s: unknown flow %q in job.json", j.id, fl)
}

// resume restarts a failed or interrupted job where it stood.
func (j *job) resume(who *Actor, text string) {
	_ = j.update(func(r *jobRecord) {
		if (r.State == StateFailed || r.State == StateInterrupted) && r.Was != "" {
			r.State = r.Was
		}
		r.Error = ""
	})
	j.record(who, "info", "resume", "ok", text)
	j.kick()
}

// eachDisk runs f for every disk of the job, at most DiskParallel at a
// time, each once its host has room (hostSlot) so a busy host never
// holds the job's turns while another host idles. The first failure
// stops the others (they stop at a safe point: their journals keep what
// finished).
func (j *job) eachDisk(ctx context.Context, f func(ctx context.Context, k diskKey) error) error {
	return j.eachDiskN(ctx, j.m.deps.DiskParallel, f)
}

// eachDiskN is eachDisk with at most n disks at a time; the syncs it runs
// share the job's memory budget (syncMemory).
func (j *job) eachDiskN(ctx context.Context, n int, f func(ctx context.Context, k diskKey) error) error {
	return j.eachDiskRun(ctx, n, true, f)
}

// eachDiskAzure is eachDiskN for work in Azure only (a snapshot): it
// takes no turn of the disks' movers.
func (j *job) eachDiskAzure(ctx context.Context, n int, f func(ctx context.Context, k diskKey) error) error {
	return j.eachDiskRun(ctx, n, false, f)
}

// eachDiskRun runs f for every disk, n at a time, each within a turn of
// its host's mover when onPrem says the work reaches it.
func (j *job) eachDiskRun(ctx context.Context, n int, onPrem bool, f func(ctx context.Context, k diskKey) error) error {
	r := j.snap()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	j.parallel.Store(int32(n))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for vi, vm := range r.VMs {
		for di := range vm.Disks {
			k := diskKey{vi, di}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := ctx // this disk's own: a slot below is its alone
				if onPrem {
					slot, release, err := j.hostSlot(ctx, k)
					if err != nil {
						return // ctx ended
					}
					defer release()
					ctx = slot
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				if ctx.Err() != nil {
					return
				}
				if err := f(ctx, k); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					cancel(err)
				}
			}()
		}
	}
	wg.Wait()
	if len(errs) == 0 {
		return context.Cause(ctx)
	}
	// Siblings stopped by the first failure add nothing.
	var real []error
	for _, e := range errs {
		if !errors.Is(e, context.Canceled) || len(errs) == 1 {
			real = append(real, e)
		}
	}
	if len(real) == 0 {
		real = errs[:1]
	}
	return errors.Join(real...)
}

// key returns the data key of an encrypted disk, unlocking the job's
// disks with its certificate the first time (also after a restart).
func (j *job) key(ctx context.Context, k diskKey) (*crypt.DataKey, error) {
	r := j.snap()
	name := cryptName(r.VMs[k.v].Name, r.VMs[k.v].Disks[k.d].Azure)
	j.mu.Lock()
	key := j.keys[name]
	j.mu.Unlock()
	if key != nil {
		return key, nil
	}
	if j.m.deps.Certs == nil {
		return nil, errors.New("encrypted disk but no certificate store: set certificates_dir in config.toml")
	}
	var disks []crypt.Disk
	for _, vm := range r.VMs {
		for _, d := range vm.Disks {
			if !d.Encrypted {
				continue
			}
			disk, err := j.openDisk(ctx, d)
			if err != nil {
				return nil, err
			}
			md, err := disk.Metadata(ctx)
			if err != nil {
				return nil, err
			}
			meta, err := crypt.ParseMetaStrings(md)
			if err != nil {
				return nil, fmt.Errorf("encryption metadata of %s: %w", d.Azure, err)
			}
			disks = append(disks, crypt.Disk{Name: cryptName(vm.Name, d.Azure), Meta: meta})
		}
	}
	u, err := crypt.CheckCertificate(ctx, j.m.deps.Certs, crypt.Check{Thumbprint: r.Choices.CertThumbprint,
		Disks: disks, Now: j.m.now(), AllowExpired: r.Choices.AllowExpiredCert})
	if err != nil {
		return nil, fmt.Errorf("unlock the encrypted disks: %w", err)
	}
	j.unlocked(u)
	j.mu.Lock()
	key = j.keys[name]
	j.mu.Unlock()
	if key == nil {
		return nil, fmt.Errorf("no data key for %s", name)
	}
	return key, nil
}

// onUnlock, when set (tests), sees every certificate check a job passes.
var onUnlock func(*crypt.Unlocked)

// unlocked takes the data keys of a passed certificate check and destroys
// the certificate's private key at once: the keys are all a job uses.
// When two disks unlocked at the same time, the first keys stay (a pass
// may be using them) and the second set is destroyed.
func (j *job) unlocked(u *crypt.Unlocked) {
	if onUnlock != nil {
		onUnlock(u)
	}
	u.Cert.Destroy()
	j.mu.Lock()
	if j.keys != nil {
		j.mu.Unlock()
		destroyKeys(u.Keys)
		return
	}
	j.keys = u.Keys
	j.mu.Unlock()
}

// destroyKeys overwrites the data keys of ks.
func destroyKeys(ks map[string]*crypt.DataKey) {
	for _, k := range ks {
		k.Destroy()
	}
}

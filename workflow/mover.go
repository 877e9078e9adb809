package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/failback/failback/config"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/mover"
)

// moverDisk is a disk the mover on its Hyper-V host writes: every
// operation is a call to that mover, which opens the image by the path
// the host knows and reads the snapshot through a URL made here for that
// snapshot alone. No disk byte crosses this machine.
type moverDisk struct {
	j     *job
	key   mover.DiskKey
	host  string
	image string // as the host names it
	// parent, for a test disk made as a differencing child, is the VM's
	// own disk it is opened over (as the host names it).
	parent string
}

// ref is the image as the mover's calls name it.
func (m moverDisk) ref() mover.ImageRef { return mover.ImageRef{Path: m.image, Parent: m.parent} }

// errNoMover: the host writes through a mover, and none is wired.
var errNoMover = errors.New("no mover is connected for this host")

func (m moverDisk) client() (*mover.Client, error) {
	if c := m.j.m.deps.Movers[m.host]; c != nil {
		return c, nil
	}
	return nil, errNoMoverFor(m.host)
}

// ID is the image as the host names it: the host's journals record it.
func (m moverDisk) ID() string { return m.image }

func (m moverDisk) Exists(ctx context.Context) (bool, error) {
	c, err := m.client()
	if err != nil {
		return false, err
	}
	im, err := c.Inspect(ctx, m.image, false, false)
	return im.Exists, err
}

func (m moverDisk) Sync(ctx context.Context, ps passSource, n int, o mover.SyncOptions, progress func(engine.Progress)) (engine.Stats, error) {
	c, err := m.client()
	if err != nil {
		return engine.Stats{}, err
	}
	snap, release, err := m.j.moverSnapshot(ctx, ps)
	if err != nil {
		return engine.Stats{}, err
	}
	defer release()
	return c.Sync(ctx, m.key, n, m.ref(), snap, o, progress)
}

func (m moverDisk) Verify(ctx context.Context, ps passSource, o mover.VerifyOptions, wholeIfCheap bool, progress func(engine.Progress)) (engine.Counters, error) {
	c, err := m.client()
	if err != nil {
		return engine.Counters{}, err
	}
	snap, release, err := m.j.moverSnapshot(ctx, ps)
	if err != nil {
		return engine.Counters{}, err
	}
	defer release()
	o.WholeIfCheap = wholeIfCheap
	return c.Verify(ctx, m.ref(), snap, o, progress)
}

func (m moverDisk) Journals(ctx context.Context, passes []int) ([]int, error) {
	c, err := m.client()
	if err != nil {
		return nil, err
	}
	return c.Journals(ctx, m.key, passes)
}

func (m moverDisk) Rollback(ctx context.Context, n int, progress func(engine.Progress)) (engine.RollbackStats, error) {
	c, err := m.client()
	if err != nil {
		return engine.RollbackStats{}, err
	}
	return c.Rollback(ctx, m.key, n, m.ref(), m.ID(), progress)
}

func (m moverDisk) Discard(ctx context.Context, passes []int) error {
	c, err := m.client()
	if err != nil {
		return err
	}
	return c.Discard(ctx, m.key, passes)
}

func (m moverDisk) Forget(ctx context.Context) error {
	c, err := m.client()
	if err != nil {
		return err
	}
	return c.Forget(ctx, m.key)
}

func (m moverDisk) Changed(ctx context.Context, progress func(engine.Progress)) ([]engine.Extent, error) {
	c, err := m.client()
	if err != nil {
		return nil, err
	}
	return c.Changed(ctx, m.key, m.ref(), changedThreads, progress)
}

func (m moverDisk) Send(ctx context.Context, dst reverseTarget, o mover.SyncOptions, progress func(engine.Progress)) (engine.Stats, error) {
	c, err := m.client()
	if err != nil {
		return engine.Stats{}, err
	}
	t := mover.Target{Name: dst.pb.Name(), LeaseID: dst.pb.LeaseID(), Access: dst.pb.AccessURL,
		Key: dst.key, Read: readOptions(m.j.m.cfg.Azure.Storage)}
	if dst.sent != nil {
		t.Throttling = dst.sent.report
	}
	return c.Send(ctx, m.key, m.ref(), t, o, progress)
}

// moverSnapshot opens the pass's snapshot here (a managed disk's grant
// is taken, a page blob's footer checked) for the mover to read through
// URLs made for it alone; release lets it go (the grant is revoked).
// An encrypted disk's data key goes with it: the mover decrypts there.
func (j *job) moverSnapshot(ctx context.Context, ps passSource) (mover.Snapshot, func(), error) {
	sn, err := ps.disk.OpenSnapshot(ctx, ps.snap)
	if err != nil {
		return mover.Snapshot{}, nil, fmt.Errorf("open snapshot of %s: %w", ps.d.name(), err)
	}
	j.reading(ps.snap, 1)
	release := func() {
		_ = sn.Close(context.WithoutCancel(ctx))
		j.reading(ps.snap, -1)
	}
	snap := mover.Snapshot{Name: ps.d.name() + "@" + ps.snap, Size: sn.Size(), Access: sn.AccessURL,
		Read: readOptions(j.m.cfg.Azure.Storage)}
	// The mover's reads are throttled there: its frames say how.
	var unwatch func()
	snap.Throttling, unwatch = j.watchSent(ps.k, ps.vm+" "+ps.d.name())
	closeSnap := release
	release = func() {
		unwatch()
		closeSnap()
	}
	if ps.d.Encrypted {
		if snap.Key, err = j.key(ctx, ps.k); err != nil {
			release()
			return mover.Snapshot{}, nil, err
		}
		return snap, release, nil
	}
	if via := j.m.deps.MoverAgent; via != nil {
		if snap.Agent, err = via(ps.d.Azure, ps.snap); err != nil {
			release()
			return mover.Snapshot{}, nil, fmt.Errorf("agent for %s: %w", ps.d.name(), err)
		}
	}
	if snap.Agent != nil {
		// As a driver reading through the agent: its figures in the
		// disk's view and record, its warnings in the job's log.
		var mu sync.Mutex
		var last AgentView
		snap.Log = slog.New(&jobLogHandler{j: j, prefix: ps.vm + " " + ps.d.name() + ": "})
		snap.Figures = func(f mover.AgentFigures) {
			mu.Lock()
			last = AgentView(f)
			mu.Unlock()
			j.agentSample(ps.k, AgentView(f))
		}
		closeSnap := release
		release = func() {
			mu.Lock()
			a := last
			mu.Unlock()
			j.agentFold(ps.k, a)
			closeSnap()
		}
	}
	return snap, release, nil
}

// readOptions are [azure.storage]'s retries for a mover's reads.
func readOptions(s config.Storage) mover.ReadOptions {
	return mover.ReadOptions{MaxRetries: s.Retries, RetryDelay: s.RetryDelay.D(), MaxRetryDelay: s.MaxRetryDelay.D(), TryTimeout: s.TryTimeout.D()}
}

// hostSlot takes one of disk k's host's mover turns (max_disks) for the
// whole of an operation on the disk; the calls made under the returned
// context use that turn. A share host has none to take.
func (j *job) hostSlot(ctx context.Context, k diskKey) (context.Context, func(), error) {
	vm := j.snap().VMs[k.v]
	c := j.m.deps.Movers[vm.Host]
	if !vm.Mover || c == nil {
		return ctx, func() {}, nil
	}
	return c.Reserve(ctx)
}

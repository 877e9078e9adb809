package workflow

import (
	"context"
	"path/filepath"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/mover"
)

// Where a job's on-premises bytes are read and written is decided here
// and nowhere else: onPrem returns the disk's on-premises side, and every
// pass, verification, rollback, commit and reverse cycle goes through it.
// Two implementations run the same operations (mover.Local): shareDisk
// on the image as this machine reaches it (a host's path map, a lab
// host's folder), with the journals in the state folder; moverDisk
// through the mover on the Hyper-V host (mover.go), with the journals in
// the host's state folder, where the disk bytes never cross this
// machine.
type onPremDisk interface {
	// ID names the image in engine journals and sums, so a journal
	// written for another image is refused.
	ID() string
	// Exists says whether the image is there.
	Exists(ctx context.Context) (bool, error)
	// Sync runs pass n: the source onto the image, journaled (and the
	// disk's sums written when o.Sums).
	Sync(ctx context.Context, src passSource, n int, o mover.SyncOptions, progress func(engine.Progress)) (engine.Stats, error)
	// Verify compares the image with the source. wholeIfCheap compares
	// the whole disk when the source computes checksums next to the data.
	Verify(ctx context.Context, src passSource, o mover.VerifyOptions, wholeIfCheap bool, progress func(engine.Progress)) (engine.Counters, error)
	// Journals lists which of the passes still have a journal.
	Journals(ctx context.Context, passes []int) ([]int, error)
	// Rollback applies pass n's journal to the image and makes it durable.
	Rollback(ctx context.Context, n int, progress func(engine.Progress)) (engine.RollbackStats, error)
	// Discard drops the passes' journals: no rollback after it.
	Discard(ctx context.Context, passes []int) error
	// Forget drops the disk's sums.
	Forget(ctx context.Context) error
	// Changed lists the image's blocks changed since the sums were
	// written, reading the image only.
	Changed(ctx context.Context, progress func(engine.Progress)) ([]engine.Extent, error)
	// Send writes the image's ranges o.Ranges into the Azure copy
	// (reverse replication) and the disk's new sums.
	Send(ctx context.Context, dst reverseTarget, o mover.SyncOptions, progress func(engine.Progress)) (engine.Stats, error)
}

// reverseTarget is the Azure copy a reverse cycle writes: opened here,
// under the job's lease; written here for a share, by the host's mover
// through a URL otherwise; encrypted with key when the disk is.
type reverseTarget struct {
	pb  *azure.PageBlobTarget
	key *crypt.DataKey
	// sent gets the throttling of a mover's writes (its progress frames).
	sent *sentThrottling
}

// passSource is the snapshot a pass or a verification reads: opened here
// for a share, handed to the host's mover as a URL.
type passSource struct {
	k    diskKey
	vm   string
	d    diskRecord
	disk azure.VMDisk
	snap string
}

// onPrem is disk k's on-premises side: through the mover when the job
// recorded so at its start, else through the share (older jobs too); in
// a test failback its test disk (testfailback_disk.go), never the VM's
// own.
func (j *job) onPrem(k diskKey) onPremDisk {
	r := j.snap()
	vm := r.VMs[k.v]
	d := vm.Disks[k.d]
	if d.Test != nil {
		return j.testDisk(k)
	}
	mk := mover.DiskKey{Job: j.id, VM: vm.Name, Disk: k.d}
	if vm.Mover {
		return moverDisk{j: j, key: mk, host: vm.Host, image: d.Image}
	}
	return shareDisk{j: j, key: mk, local: mover.NewLocal(j.m.paths.root), image: d.Image, path: d.Local}
}

// shareDisk is an image file this machine opens itself.
type shareDisk struct {
	j     *job
	key   mover.DiskKey
	local *mover.Local
	image string // as the Hyper-V host names it, for messages
	path  string // as this machine reaches it
}

func (s shareDisk) ID() string {
	if a, err := filepath.Abs(s.path); err == nil {
		return a
	}
	return s.path
}

func (s shareDisk) Exists(context.Context) (bool, error) {
	return mover.Inspect(s.path, false, false).Exists, nil
}

func (s shareDisk) Sync(ctx context.Context, ps passSource, n int, o mover.SyncOptions, progress func(engine.Progress)) (engine.Stats, error) {
	src, release, sample, err := s.j.openSource(ctx, ps.k, ps.disk, ps.vm, ps.d, ps.snap)
	if err != nil {
		return engine.Stats{}, err
	}
	defer release()
	return s.local.Sync(ctx, s.key, n, s.path, src, o, func(p engine.Progress) { sample(); progress(p) })
}

func (s shareDisk) Verify(ctx context.Context, ps passSource, o mover.VerifyOptions, wholeIfCheap bool, progress func(engine.Progress)) (engine.Counters, error) {
	src, release, sample, err := s.j.openSource(ctx, ps.k, ps.disk, ps.vm, ps.d, ps.snap)
	if err != nil {
		return engine.Counters{}, err
	}
	defer release()
	o.WholeIfCheap = wholeIfCheap
	return s.local.Verify(ctx, s.path, src, o, func(p engine.Progress) { sample(); progress(p) })
}

func (s shareDisk) Journals(_ context.Context, passes []int) ([]int, error) {
	return s.local.Journals(s.key, passes)
}

func (s shareDisk) Rollback(ctx context.Context, n int, progress func(engine.Progress)) (engine.RollbackStats, error) {
	return s.local.Rollback(ctx, s.key, n, s.path, s.ID(), progress)
}

func (s shareDisk) Discard(_ context.Context, passes []int) error {
	return s.local.Discard(s.key, passes)
}

func (s shareDisk) Forget(context.Context) error { return s.local.Forget(s.key) }

func (s shareDisk) Changed(ctx context.Context, progress func(engine.Progress)) ([]engine.Extent, error) {
	return s.local.Changed(ctx, s.key, s.path, changedThreads, progress)
}

func (s shareDisk) Send(ctx context.Context, dst reverseTarget, o mover.SyncOptions, progress func(engine.Progress)) (engine.Stats, error) {
	var t engine.Target = dst.pb
	if dst.key != nil {
		var err error
		if t, err = crypt.EncryptingTarget(dst.pb, dst.key); err != nil {
			return engine.Stats{}, err
		}
	}
	return s.local.Send(ctx, s.key, s.path, t, o, progress)
}

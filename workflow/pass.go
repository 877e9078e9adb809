package workflow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/mover"
	"github.com/failback/failback/vdisk"
)

// passSpec says what kind of sync a pass is.
type passSpec struct {
	kind   string
	round  int
	mode   engine.Mode
	verify bool // the engine verifies what it wrote
	sums   bool // record the final block sums (reverse replication)
	quiet  bool // log the pass only when it moved something (catch-up while ready)
	// keepOld leaves the disk's older snapshots to a later prune (phase
	// 2 deletes them once the VMs run: no part of the downtime).
	keepOld bool
}

// runPass makes disk k hold a new snapshot of its blob: it takes the
// snapshot, works out the ranges (ranges mode), and syncs through a
// journal of its own. A pass of the same kind and round that did not
// finish is resumed (same snapshot, same ranges, same journal); any other
// unfinished pass is marked aborted and its ranges are added, because it
// may have written some of them.
func (j *job) runPass(ctx context.Context, k diskKey, ps passSpec) error {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	disk, err := j.openDisk(ctx, d)
	if err != nil {
		return fmt.Errorf("%s: %w", d.name(), err)
	}
	pr, ranges, done, err := j.preparePass(ctx, k, disk, ps)
	if err != nil || done {
		return err
	}
	// A resumed pass keeps the mode it ran in (a fallback to checksums).
	ps.mode = pr.Mode
	if err := j.syncPass(ctx, k, vm.Name, d, disk, pr, ranges, ps); err != nil {
		return err
	}
	if !ps.keepOld {
		j.pruneSnapshots(ctx, k, disk, pr.Snapshot)
	}
	return nil
}

// preparePass is disk k's record of the pass ps (passRecordFor) and,
// in ranges mode, its ranges: listed once and saved, so a second call
// loads them. When the changes cannot be listed, the pass falls back to
// comparing the whole disk by checksums (its record says so).
func (j *job) preparePass(ctx context.Context, k diskKey, disk azure.VMDisk, ps passSpec) (pr passRecord, ranges []engine.Extent, done bool, err error) {
	pr, done, err = j.passRecordFor(ctx, k, disk, ps)
	if err != nil || done || pr.Mode != engine.Ranges {
		return pr, nil, done, err
	}
	if ranges, err = j.passRanges(ctx, k, disk, pr); err == nil {
		return pr, ranges, false, nil
	}
	if ctx.Err() != nil {
		return pr, nil, false, err
	}
	// A failback never fails for want of a diff: compare the whole disk
	// by checksums instead.
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	j.warn("diff", "%s %s: pass %d: the changes since the last snapshot cannot be listed (%v); comparing the whole disk by checksums instead", vm.Name, d.name(), pr.N, err)
	if err := j.update(func(r *jobRecord) {
		p := &r.VMs[k.v].Disks[k.d].Passes[pr.N]
		p.Mode, p.Fallback = engine.Delta, err.Error()
	}); err != nil {
		return pr, nil, false, err
	}
	pr.Mode = engine.Delta
	return pr, nil, false, nil
}

// snapshotPass takes disk k's snapshot for the pass ps and records the
// pass, without syncing it: phase 2 takes every disk's final snapshot at
// once, then runs the passes (runPass resumes the recorded pass).
func (j *job) snapshotPass(ctx context.Context, k diskKey, ps passSpec) error {
	d := j.snap().VMs[k.v].Disks[k.d]
	disk, err := j.openDisk(ctx, d)
	if err != nil {
		return fmt.Errorf("%s: %w", d.name(), err)
	}
	_, _, err = j.passRecordFor(ctx, k, disk, ps)
	return err
}

// passRecordFor is disk k's record of the pass ps: the unfinished one of
// the same kind and round (done says it finished already), or a new one
// on a new snapshot, after marking any other unfinished pass aborted.
func (j *job) passRecordFor(ctx context.Context, k diskKey, disk azure.VMDisk, ps passSpec) (pr passRecord, done bool, err error) {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	if n := len(d.Passes); n > 0 && d.Passes[n-1].Kind == ps.kind && d.Passes[n-1].Round == ps.round && !d.Passes[n-1].Aborted {
		return d.Passes[n-1], d.Passes[n-1].Done, nil
	}
	base := d.lastDone()
	if ps.mode == engine.Ranges && base == nil {
		return pr, false, fmt.Errorf("%s: no finished pass to sync the changes from", d.name())
	}
	sn, err := disk.CreateSnapshot(ctx, azure.SnapshotOptions{JobID: j.id, Purpose: ps.kind,
		Waiting: func(wait time.Duration, why string) {
			j.info("snapshot", "%s %s: snapshot in %s: %s", vm.Name, d.name(), wait.Round(time.Second), why)
		}})
	if err != nil {
		return pr, false, fmt.Errorf("snapshot %s: %w", d.name(), err)
	}
	pr = passRecord{N: len(d.Passes), Kind: ps.kind, Round: ps.round, Mode: ps.mode, Snapshot: sn.ID, Taken: j.m.now()}
	if base != nil && ps.mode == engine.Ranges {
		pr.Base = base.Snapshot
	}
	return pr, false, j.update(func(r *jobRecord) {
		dd := &r.VMs[k.v].Disks[k.d]
		for i := range dd.Passes {
			if !dd.Passes[i].Done {
				dd.Passes[i].Aborted = true
			}
		}
		dd.Passes = append(dd.Passes, pr)
	})
}

// snapshotsGone records that every snapshot of disk k's passes but keep
// was deleted.
func (j *job) snapshotsGone(k diskKey, keep string) error {
	return j.update(func(r *jobRecord) {
		for i := range r.VMs[k.v].Disks[k.d].Passes {
			if p := &r.VMs[k.v].Disks[k.d].Passes[i]; p.Snapshot != keep {
				p.SnapshotGone = true
			}
		}
	})
}

// pruneSnapshots deletes the job's snapshots of disk k but keep, the one
// the disk now holds: the next pass diffs against it, the verification
// reads it, and after commit it is the base of reverse replication. It
// also finds any snapshot a crash left between its creation and its
// record. Failing to delete only leaves a snapshot for the next prune or
// the job's clean-up, so it warns.
func (j *job) pruneSnapshots(ctx context.Context, k diskKey, disk azure.VMDisk, keep string) {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	n, err := j.deleteDiskSnapshots(ctx, disk, keep)
	if err != nil {
		j.warn("snapshot", "%s %s: old snapshots not deleted yet (%v); the next pass or the job's end deletes them", vm.Name, d.name(), err)
	}
	if err == nil {
		_ = j.snapshotsGone(k, keep)
	}
	if n > 0 {
		j.info("snapshot", "%s %s: %d older snapshot(s) of this job deleted; %s kept", vm.Name, d.name(), n, keep)
	}
}

// passRanges loads a ranges pass's extents, or works them out once: the
// changes from the base snapshot to the pass's, plus the ranges of every
// aborted pass after the base.
func (j *job) passRanges(ctx context.Context, k diskKey, disk azure.VMDisk, pr passRecord) ([]engine.Extent, error) {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	file := j.m.paths.ranges(j.id, vm.Name, k.d, pr.N)
	got, err := loadRanges(file)
	if err == nil {
		return got, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// The diff and the listings read both snapshots: one grant each for
	// all of them (a managed disk's), not one per call.
	release, err := azure.HoldSnapshots(ctx, disk, pr.Base, pr.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("read access to the snapshots of %s: %w", d.name(), err)
	}
	defer release()
	rng, err := disk.ChangedRanges(ctx, pr.Base, pr.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("changes of %s since the last snapshot: %w", d.name(), err)
	}
	// The diff is checked against the snapshots' listings, never against
	// itself: whatever became unallocated (a trim) is written as zeros
	// and verified, whether the diff lists it or not.
	cleared, err := disk.ClearedRanges(ctx, pr.Base, pr.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("listings of %s's snapshots: %w", d.name(), err)
	}
	if missed := vdisk.SubtractExtents(cleared, vdisk.NormalizeExtents(rng, disk.Size())); len(missed) > 0 {
		var n int64
		for _, e := range missed {
			n += e.Len
		}
		j.warn("diff", "%s %s: pass %d: %s became unallocated since the last snapshot (a trim) but the diff does not list it: the diff and the listings disagree; those ranges are written as zeros and verified too",
			vm.Name, d.name(), pr.N, bytesText(n))
	}
	rng = append(rng, cleared...)
	baseN := -1
	for _, p := range d.Passes {
		if p.Done && p.Snapshot == pr.Base {
			baseN = p.N
		}
	}
	var extra []engine.Extent
	for _, p := range d.Passes {
		if !p.Aborted || p.N <= baseN || p.N >= pr.N {
			continue
		}
		if p.Runs == 0 {
			continue // the engine never ran it: it wrote nothing (stopped while snapshotting or listing)
		}
		if p.Mode != engine.Ranges {
			return nil, fmt.Errorf("%s: an unfinished %s pass cannot be completed by a ranges pass; resume or cancel the job", d.name(), p.Kind)
		}
		more, err := loadRanges(j.m.paths.ranges(j.id, vm.Name, k.d, p.N))
		if err != nil {
			return nil, fmt.Errorf("ranges of the aborted pass %d of %s: %w", p.N, d.name(), err)
		}
		extra = append(extra, more...)
	}
	rng = unionRanges(disk.Size(), rng, extra)
	if err := saveRanges(file, rng); err != nil {
		return nil, err
	}
	var n int64
	for _, e := range rng {
		n += e.Len
	}
	return rng, j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Passes[pr.N].Ranges = n })
}

// openSource opens a snapshot of disk k as the engine's source:
// decrypting when the disk is encrypted, else through Deps.SourceVia (the
// agent) when set. release releases it (and the snapshot's access);
// sample, called with the engine's progress, refreshes the agent's
// figures in the view.
func (j *job) openSource(ctx context.Context, k diskKey, disk azure.VMDisk, vm string, d diskRecord, snap string) (src engine.Source, release, sample func(), err error) {
	sn, err := disk.OpenSnapshot(ctx, snap)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open snapshot of %s: %w", d.name(), err)
	}
	j.reading(snap, 1)
	throttled, unwatch := j.watchThrottle(k, vm+" "+d.name(), sn)
	closeSnap := func() {
		unwatch()
		_ = sn.Close(context.WithoutCancel(ctx))
		j.reading(snap, -1)
	}
	if !d.Encrypted {
		if via := j.m.deps.SourceVia; via != nil {
			src, release, sample, err := j.viaAgent(ctx, k, via, d, vm, snap, sn)
			if err != nil {
				closeSnap()
				return nil, nil, nil, fmt.Errorf("agent for %s: %w", d.name(), err)
			}
			return src, func() { release(); closeSnap() }, func() { sample(); throttled() }, nil
		}
		return sn, closeSnap, throttled, nil
	}
	key, err := j.key(ctx, k)
	if err != nil {
		closeSnap()
		return nil, nil, nil, err
	}
	if src, err = crypt.DecryptingSource(sn, key); err != nil {
		closeSnap()
		return nil, nil, nil, err
	}
	return src, closeSnap, throttled, nil
}

// engineOptions are the config's engine settings, the bandwidth limit
// shared by every disk and a share of the job's memory budget.
func (j *job) engineOptions() engine.Options {
	e := j.m.cfg.Engine
	// BandwidthLimit is for a mover on a host (its own process); in this
	// one, Bandwidth is the cap every disk shares.
	return engine.Options{BlockSize: e.BlockSize.Bytes(), Threads: e.Threads, Bandwidth: j.m.bandwidth,
		BandwidthLimit: e.BandwidthLimit.Bytes(), MemoryLimit: j.syncMemory()}
}

// syncMemory is one sync's share of the job's block buffers: the engine's
// default budget split between the disks that move at once (eachDiskN),
// so running more of them at once never needs more memory; at least
// what the engine needs for two slots.
func (j *job) syncMemory() int64 {
	n := max(int64(j.parallel.Load()), 1)
	return max(engine.DefaultMemoryLimit/n, 4*j.m.cfg.Engine.BlockSize.Bytes())
}

// syncPass runs the engine for one pass, on premises, and records the
// result.
func (j *job) syncPass(ctx context.Context, k diskKey, vm string, d diskRecord, disk azure.VMDisk, pr passRecord, ranges []engine.Extent, ps passSpec) error {
	onprem := j.onPrem(k)
	e := j.engineOptions()
	o := mover.SyncOptions{Mode: ps.mode, BlockSize: e.BlockSize, Ranges: ranges, Threads: e.Threads,
		SourceID: disk.Name() + "@" + pr.Snapshot, TargetID: onprem.ID(), Verify: ps.verify, Sums: ps.sums,
		BandwidthLimit: e.BandwidthLimit, Bandwidth: e.Bandwidth, MemoryLimit: e.MemoryLimit}
	progress := func(p engine.Progress) { j.setProgress(k, enginePhase(p.Phase, ps.mode), p) }
	if err := j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Passes[pr.N].Runs++ }); err != nil {
		return err
	}
	if pr.Runs > 0 {
		j.info("resume", "%s %s: resuming pass %d (%s) from its journal", vm, d.name(), pr.N, pr.Kind)
	}
	st, err := onprem.Sync(ctx, passSource{k: k, vm: vm, d: d, disk: disk, snap: pr.Snapshot}, pr.N, o, progress)
	_ = j.update(func(r *jobRecord) {
		p := &r.VMs[k.v].Disks[k.d].Passes[pr.N]
		p.Stats = st
		if err == nil {
			p.Done, p.Ended = true, j.m.now()
			if ps.sums {
				r.VMs[k.v].Disks[k.d].Sums = true
			}
		}
	})
	if err != nil {
		if ctx.Err() == nil {
			j.setDiskPhase(k, diskFailed, err.Error())
		}
		return fmt.Errorf("%s %s, pass %d (%s): %w", vm, d.name(), pr.N, pr.Kind, err)
	}
	if st.Duration > time.Second && st.BytesReadSource > 0 {
		j.m.noteThroughput(float64(st.BytesReadSource) / st.Duration.Seconds())
	}
	j.setDiskPhase(k, diskDone, "")
	msg := fmt.Sprintf("%s %s: pass %d (%s) done: %d of %d blocks differed, %s transferred", vm, d.name(), pr.N, pr.Kind,
		st.BlocksDiffered, st.Blocks, bytesText(st.BytesTransferred))
	if st.ResumedBlocks > 0 {
		msg += fmt.Sprintf("; %d blocks were finished before the interruption and not redone", st.ResumedBlocks)
	}
	if st.Verified {
		msg += "; verified"
	}
	if !ps.quiet || st.BytesTransferred > 0 {
		j.info("pass", "%s", msg)
	}
	return nil
}

// unionRanges is the ranges of a pass as the engine takes them: the
// union of a and b, sorted, merged and clipped to the disk (a list saved
// by an older pass, or a service's answer, is taken as it is nowhere).
func unionRanges(size int64, a, b []engine.Extent) []engine.Extent {
	return vdisk.NormalizeExtents(append(slices.Clone(a), b...), size)
}

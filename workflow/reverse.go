package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
)

// flowReverse protects the on-premises VMs back to Azure in cycles: each
// finds the blocks changed on premises since the last cycle from the
// block sums (reading only the local image), sends only those into the
// disk blob, records the new sums and snapshots the blob as a recovery
// point. Nothing is ever downloaded to find changes.
func (j *job) flowReverse(ctx context.Context) error {
	if err := j.setState(StateReverse); err != nil {
		return err
	}
	if err := j.hook(ctx, "reverse"); err != nil {
		return err
	}
	for {
		start := time.Now()
		if err := j.eachDisk(ctx, j.reverseDisk); err != nil {
			return err
		}
		var sent int64
		if err := j.update(func(r *jobRecord) {
			r.ReverseCycles++
			r.LastReverse = j.m.now()
			for _, vm := range r.VMs {
				for _, d := range vm.Disks {
					sent += d.SentBytes
				}
			}
		}); err != nil {
			return err
		}
		j.info("reverse", "reverse replication cycle done in %s: %s sent", time.Since(start).Round(time.Millisecond), bytesText(sent))
		if j.snap().ReverseOnce {
			return j.setState(StateCommitted)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(j.m.cfg.Reverse.Interval.D()):
		}
	}
}

// changedThreads is how many local readers look for changed blocks: the
// local disk is fast, a few readers keep the hashing busy.
const changedThreads = 4

// reverseDisk runs one cycle for one disk.
func (j *job) reverseDisk(ctx context.Context, k diskKey) error {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	sums := j.m.paths.sums(j.id, vm.Name, k.d)
	onprem := j.onPrem(d)
	local, closeLocal, err := onprem.OpenRead(ctx)
	if err != nil {
		return fmt.Errorf("reverse replication: %w", err)
	}
	defer closeLocal()
	j.setDiskPhase(k, diskReverse, "")
	changed, err := engine.ChangedBlocks(ctx, local, sums, engine.ChangedOptions{Threads: changedThreads,
		Progress: func(p engine.Progress) { j.setProgress(k, diskReverse, p) }})
	if err != nil {
		return fmt.Errorf("changes of %s since the last cycle: %w", d.Image, err)
	}
	if len(changed) == 0 {
		j.setDiskPhase(k, diskDone, "")
		return j.update(func(r *jobRecord) {
			r.VMs[k.v].Disks[k.d].SentBytes = 0
			noteCycle(&r.VMs[k.v].Disks[k.d], j.m.now(), 0, "")
		})
	}
	disk, err := j.openDisk(ctx, d)
	if err != nil {
		return err
	}
	// After commit no VM uses the disk: a lease on it is the deleted VM's.
	pb, err := disk.OpenWriter(ctx, azure.WriterOptions{BreakLease: true})
	if err != nil {
		return fmt.Errorf("reverse replication of %s: %w", d.name(), err)
	}
	defer func() { _ = pb.Close(context.WithoutCancel(ctx)) }()
	var dst engine.Target = pb
	if d.Encrypted {
		key, err := j.key(ctx, k)
		if err != nil {
			return err
		}
		if dst, err = crypt.EncryptingTarget(pb, key); err != nil {
			return err
		}
	}
	o := j.engineOptions()
	o.Mode, o.Ranges, o.NoJournal, o.SumsFile = engine.Ranges, changed, true, sums
	o.SourceID, o.TargetID = onprem.ID(), disk.Name()
	o.Progress = func(p engine.Progress) { j.setProgress(k, diskReverse, p) }
	st, err := engine.Sync(ctx, local, mirrorTarget{Target: dst, local: local}, o)
	if err != nil {
		return fmt.Errorf("reverse replication of %s: %w (the next cycle sends it again)", d.name(), err)
	}
	sn, err := disk.CreateSnapshot(ctx, azure.SnapshotOptions{JobID: j.id, Purpose: "reverse"})
	if err != nil {
		return fmt.Errorf("recovery point of %s: %w", d.name(), err)
	}
	var drop []string
	if err := j.update(func(r *jobRecord) {
		dd := &r.VMs[k.v].Disks[k.d]
		dd.RecoveryPoints = append(dd.RecoveryPoints, sn.ID)
		dd.SentBytes = st.BytesTransferred
		noteCycle(dd, j.m.now(), st.BytesTransferred, sn.ID)
		if keep := j.m.cfg.Reverse.KeepRecoveryPoints; keep > 0 && len(dd.RecoveryPoints) > keep {
			drop = append(drop, dd.RecoveryPoints[:len(dd.RecoveryPoints)-keep]...)
			dd.RecoveryPoints = dd.RecoveryPoints[len(dd.RecoveryPoints)-keep:]
		}
	}); err != nil {
		return err
	}
	for _, id := range drop {
		if err := disk.DeleteSnapshot(ctx, id); err != nil {
			j.warn("reverse", "old recovery point %s of %s not deleted: %v", id, d.name(), err)
		}
	}
	j.setDiskPhase(k, diskDone, "")
	j.info("reverse", "%s %s: %s changed on premises sent in %d block(s), %s read back from Azure; recovery point %s",
		vm.Name, d.name(), bytesText(st.BytesTransferred), st.BlocksDiffered, bytesText(pb.Stats().Bytes.Load()), sn.ID)
	return nil
}

// mirrorTarget is the blob target of a reverse cycle whose reads come from
// the local image. The engine reads its target only to fill the sums of
// blocks it did not send; outside the changed ranges the blob equals the
// local image (that is what the sums said), so reading the local copy
// gives the same sums without downloading anything.
type mirrorTarget struct {
	engine.Target
	local engine.Source
}

func (m mirrorTarget) ReadAt(ctx context.Context, p []byte, off int64) error {
	return m.local.ReadAt(ctx, p, off)
}

// WriteZeroes passes to the blob (page blobs and the encrypting target
// both clear pages).
func (m mirrorTarget) WriteZeroes(ctx context.Context, off, n int64) error {
	if z, ok := m.Target.(engine.Zeroer); ok {
		return z.WriteZeroes(ctx, off, n)
	}
	return m.Target.WriteAt(ctx, make([]byte, n), off)
}

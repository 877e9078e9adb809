package workflow

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/mover"
)

// flowReverse protects the on-premises VMs back to Azure in cycles: each
// freezes every VM through a recovery checkpoint (reversecycle.go), finds
// the blocks changed on premises since the last cycle (from Hyper-V's
// change tracking, or from the block sums by reading the local image),
// sends only those into each disk's Azure copy (the failed-back page
// blob, or for a VM that ran on managed disks its replica, seeded inside
// Azure from the snapshot the failback kept), records the new sums, and
// then snapshots every disk of the VM together as one recovery point.
// Nothing is ever downloaded to find changes.
func (j *job) flowReverse(ctx context.Context) error {
	if err := j.setState(StateReverse); err != nil {
		return err
	}
	if err := j.hook(ctx, "reverse"); err != nil {
		return err
	}
	for {
		start := time.Now()
		if err := j.eachVM(ctx, j.reverseVM); err != nil {
			return err
		}
		var sent int64
		took := time.Since(start)
		if err := j.update(func(r *jobRecord) {
			r.ReverseCycles++
			r.LastReverse = j.m.now()
			r.LastCycleTook = took
			for _, vm := range r.VMs {
				for _, d := range vm.Disks {
					sent += d.SentBytes
				}
			}
		}); err != nil {
			return err
		}
		j.info("reverse", "reverse replication cycle done in %s: %s sent", took.Round(time.Millisecond), bytesText(sent))
		if iv := j.m.cfg.Reverse.Interval.D(); !j.snap().ReverseOnce && took > iv {
			j.warn("reverse", "the cycle took %s, longer than the %s between cycles ([reverse] interval): recovery points fall behind; lengthen the interval or find what slows the cycle (the log says what each disk read and sent)",
				took.Round(time.Second), iv)
		}
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

// reverseCopy opens the Azure copy that reverse replication writes for
// disk k: the page blob itself, or the replica of a managed disk, seeded
// from the snapshot the failback kept the first time.
func (j *job) reverseCopy(ctx context.Context, k diskKey) (azure.VMDisk, error) {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	if d.Azure.Kind == azure.KindPageBlob {
		return j.openDisk(ctx, d)
	}
	reps := j.m.deps.Replicas
	if reps == nil {
		return nil, fmt.Errorf("%s %s ran on a managed disk, which takes no writes: reverse replication needs a storage account for its replica ([reverse.storage], or [azure.storage])", vm.Name, d.name())
	}
	if d.Replica.Kind != "" {
		return reps.Open(ctx, d.Replica)
	}
	base := d.lastDone()
	if base == nil {
		return nil, fmt.Errorf("%s %s: no snapshot of the failback to seed its replica from", vm.Name, d.name())
	}
	src, err := j.openDisk(ctx, d)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s/%s/%s.vhd", vm.Name, j.id, d.name())
	rep, err := reps.Seed(ctx, src, base.Snapshot, name)
	if err != nil {
		return nil, err
	}
	if err := j.update(func(r *jobRecord) { r.VMs[k.v].Disks[k.d].Replica = rep.Ref() }); err != nil {
		return nil, err
	}
	j.info("reverse", "%s %s: replica %s seeded inside Azure from snapshot %s (nothing crossed the WAN)", vm.Name, d.name(), rep.Ref(), base.Snapshot)
	return rep, nil
}

// reverseDisk runs one cycle for one disk, frozen as cd: the changed
// blocks into its Azure copy. The recovery point is taken for the whole
// VM afterwards.
func (j *job) reverseDisk(ctx context.Context, k diskKey, cd *hyperv.CycleDisk) error {
	r := j.snap()
	vm, d := r.VMs[k.v], r.VMs[k.v].Disks[k.d]
	copyDisk, err := j.reverseCopy(ctx, k)
	if err != nil {
		return fmt.Errorf("reverse replication of %s: %w", d.name(), err)
	}
	onprem := j.onPrem(k)
	j.setDiskPhase(k, diskReverse, "")
	changed, known, why := cycleRanges(cd)
	how := "from Hyper-V change tracking"
	var scanned int64
	if !known {
		how = "by checksumming the disk: " + why
		var err error
		var scan engine.Progress
		changed, err = onprem.Changed(ctx, func(p engine.Progress) { scan = p; j.setProgress(k, diskReverse, p) })
		if err != nil {
			return fmt.Errorf("changes of %s since the last cycle: %w", d.Image, err)
		}
		scanned = scan.BytesReadSource
	}
	if len(changed) == 0 {
		j.setDiskPhase(k, diskDone, "")
		return j.update(func(r *jobRecord) {
			rd := &r.VMs[k.v].Disks[k.d]
			rd.SentBytes, rd.ReadBytes, rd.Changes = 0, scanned, how
			noteCycle(rd, j.m.now(), 0)
		})
	}
	// Never break a lease: commit broke the deleted VM's, so one there now
	// is someone else's, and writing under it is refused. The job's own
	// lease id is the same every cycle, so a cycle killed while it held
	// the lease takes it back.
	pb, err := copyDisk.OpenWriter(ctx, azure.WriterOptions{LeaseID: leaseID(j.id, copyDisk.Ref())})
	if err != nil {
		return fmt.Errorf("reverse replication of %s into %s: %w", d.name(), copyDisk.Name(), err)
	}
	defer func() { _ = pb.Close(context.WithoutCancel(ctx)) }()
	dst := reverseTarget{pb: pb}
	if d.Encrypted {
		if dst.key, err = j.key(ctx, k); err != nil {
			return err
		}
	}
	// A host's mover writes the copy there: its frames say how Azure
	// throttles those writes; a share's are written here.
	var thr throttleReporter = pb
	if _, ok := onprem.(moverDisk); ok {
		dst.sent = &sentThrottling{}
		thr = dst.sent
	}
	throttled, unwatch := j.watchThrottle(k, vm.Name+" "+d.name(), thr)
	defer unwatch()
	e := j.engineOptions()
	st, err := onprem.Send(ctx, dst, mover.SyncOptions{Mode: engine.Ranges, Ranges: changed, BlockSize: e.BlockSize, Threads: e.Threads,
		BandwidthLimit: e.BandwidthLimit, Bandwidth: e.Bandwidth, SourceID: onprem.ID(), TargetID: copyDisk.Name(), Sums: true},
		func(p engine.Progress) {
			throttled()
			j.setProgress(k, diskReverse, p)
		})
	if err != nil {
		return fmt.Errorf("reverse replication of %s: %w (the next cycle sends it again)", d.name(), err)
	}
	if err := j.update(func(r *jobRecord) {
		rd := &r.VMs[k.v].Disks[k.d]
		rd.SentBytes, rd.ReadBytes, rd.Changes = st.BytesTransferred, scanned+st.BytesReadSource, how
		noteCycle(rd, j.m.now(), st.BytesTransferred)
	}); err != nil {
		return err
	}
	j.setDiskPhase(k, diskDone, "")
	j.info("reverse", "%s %s: %s changed on premises (found %s) sent in %d block(s) to %s; %s read on premises, %s read back from Azure",
		vm.Name, d.name(), bytesText(st.BytesTransferred), how, st.BlocksDiffered, copyDisk.Name(),
		bytesText(scanned+st.BytesReadSource), bytesText(pb.Stats().Bytes.Load()))
	return nil
}

// recoveryPoint snapshots every disk's Azure copy of VM v together, as
// one recovery point of the whole VM, and drops the oldest points past
// [reverse] keep_recovery_points. A cycle that sent nothing for the VM
// takes none: the newest point (or the failback's own snapshot) already
// holds those bytes.
func (j *job) recoveryPoint(ctx context.Context, v int, vm vmRecord, c hyperv.Consistency) error {
	p := recoveryPoint{At: j.m.now(), Cycle: j.snap().ReverseCycles + 1, Consistency: string(c)}
	for _, d := range vm.Disks {
		p.Sent += d.SentBytes
	}
	if p.Sent == 0 {
		return nil
	}
	var copies []azure.VMDisk
	for di := range vm.Disks {
		c, err := j.reverseCopy(ctx, diskKey{v, di})
		if err != nil {
			return err
		}
		copies = append(copies, c)
	}
	for i, c := range copies {
		sn, err := c.CreateSnapshot(ctx, azure.SnapshotOptions{JobID: j.id, Purpose: "reverse"})
		if err != nil {
			return fmt.Errorf("recovery point of %s %s: %w", vm.Name, vm.Disks[i].name(), err)
		}
		p.Snapshots = append(p.Snapshots, sn.ID)
	}
	var drop []recoveryPoint
	if err := j.update(func(r *jobRecord) {
		rv := &r.VMs[v]
		rv.Points = append(rv.Points, p)
		if keep := j.m.cfg.Reverse.KeepRecoveryPoints; keep > 0 && len(rv.Points) > keep {
			drop = append(drop, rv.Points[:len(rv.Points)-keep]...)
			rv.Points = append([]recoveryPoint(nil), rv.Points[len(rv.Points)-keep:]...)
		}
	}); err != nil {
		return err
	}
	for _, old := range drop {
		for i, id := range old.Snapshots {
			if i < len(copies) {
				if err := copies[i].DeleteSnapshot(ctx, id); err != nil {
					j.warn("reverse", "old recovery point %s of %s not deleted: %v", id, copies[i].Name(), err)
				}
			}
		}
	}
	j.info("reverse", "%s: %s recovery point of its %d disk(s) at %s (%s sent this cycle)", vm.Name, c, len(copies), p.At.Format(time.DateTime), bytesText(p.Sent))
	return nil
}

// leaseID is the lease reverse replication of a job takes on one Azure
// copy: a UUID derived from both, the same after a crash.
func leaseID(job string, ref azure.DiskRef) string {
	h := sha256.Sum256([]byte("failback-reverse\x00" + job + "\x00" + ref.Key()))
	h[6] = h[6]&0x0f | 0x40 // version 4 layout
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

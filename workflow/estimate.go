package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
)

// defaultThroughput is assumed until a sync measured one (bytes/s read
// from Azure): 50 MiB/s, a modest WAN.
const defaultThroughput = 50 << 20

// Estimate implements Service. Per disk it counts the allocated bytes of
// a temporary snapshot (deleted again) and, when this tool snapshotted the
// disk before, the bytes changed since then; otherwise every allocated
// byte is the bound. Nothing else is read and nothing stays behind.
func (m *Manager) Estimate(ctx context.Context, c Choices) (Estimate, error) {
	if c.Direction == "" {
		c.Direction = DirAzureToOnPrem
	}
	if c.Sync == "" {
		c.Sync = SyncDelta
	}
	_, ts, err := m.resolve(ctx, c)
	if err != nil {
		return Estimate{}, err
	}
	est := Estimate{Disks: []DiskEstimate{}}
	var missing []string
	known := true
	var changing float64 // bytes a second the disks change in Azure, as far as measured
	for _, t := range ts {
		for _, d := range t.disks {
			de, since, err := m.estimateDisk(ctx, t, d)
			if err != nil {
				return Estimate{}, err
			}
			est.Disks = append(est.Disks, de)
			est.FullBytes += de.Allocated
			est.DeltaBytes += de.ChangedEstimate
			if de.Bound {
				known = false
			} else if since > time.Second {
				changing += float64(de.ChangedEstimate) / since.Seconds()
			}
			if !m.imagePresent(ctx, t, d) {
				missing = append(missing, t.vm.Name+" "+hostBase(d.image))
			}
		}
	}
	rc := m.rates()
	last := est.DeltaBytes
	lastWhy := "what changed since failback's last snapshot"
	if !known {
		lastWhy = "at most every allocated byte (nothing measured how fast the disks change yet)"
	}
	switch {
	case known && changing > 0 && m.readyEvery(0) > 0:
		// The job catches up while it waits for Complete failover, so the
		// final pass moves about one pacing interval of changes.
		every := m.readyEvery(0)
		last = min(last, int64(changing*every.Seconds()))
		lastWhy = "about " + durText(every) + " of changes (the job keeps catching up while it waits)"
	case m.cfg.Engine.CatchUp.MaxPasses > 0 && m.cfg.Engine.CatchUp.StopBelow.Bytes() < last:
		last = m.cfg.Engine.CatchUp.StopBelow.Bytes() // catch-up passes leave at most this for phase 2
		lastWhy = "at most catch-up's stop_below " + bytesText(last)
	}
	fullFactor := 1.0
	if m.cfg.Engine.Verify {
		fullFactor = 2 // downloaded, then verified
	}
	est.DeltaDowntime = rc.overhead + time.Duration(2*float64(last)/rc.read*float64(time.Second))
	est.FullDowntime = rc.overhead + time.Duration(fullFactor*float64(est.FullBytes)/rc.read*float64(time.Second))
	// The final pass moves at most what a full download would.
	est.DeltaDowntime = min(est.DeltaDowntime, est.FullDowntime)
	downtimes := fmt.Sprintf("downtime: delta about %s (the final pass moves %s, then verifies it), full about %s (%s read whole at %s); %s",
		durText(est.DeltaDowntime), lastWhy, durText(est.FullDowntime), bytesText(est.FullBytes), rc.rateText(), rc.overheadText())
	switch {
	case known && est.FullBytes > 0 && est.DeltaBytes*2 > est.FullBytes && len(missing) == 0:
		est.Recommended = SyncFull
		est.Why = fmt.Sprintf("%d%% of the data changed since the last failback snapshot: a full download skips the checksums; %s", 100*est.DeltaBytes/est.FullBytes, downtimes)
	case len(missing) > 0:
		// Never full only for a missing disk: delta creates it, phase 1
		// fills it while Azure runs, and the downtime stays short.
		est.Recommended = SyncDelta
		est.Why = fmt.Sprintf("the on-premises disk of %s is missing or empty: phase 1 writes all of it while the Azure VMs keep running (creating the VM when asked), so the downtime is still only the last changes; %s", missing[0], downtimes)
	case known:
		est.Recommended = SyncDelta
		pct := int64(0)
		if est.FullBytes > 0 {
			pct = 100 * est.DeltaBytes / est.FullBytes
		}
		est.Why = fmt.Sprintf("about %d%% changed since the last failback snapshot: delta moves far less and the Azure VMs run during phase 1; %s", pct, downtimes)
	default:
		est.Recommended = SyncDelta
		est.Why = fmt.Sprintf("the on-premises disks exist: delta checksums both sides while the Azure VMs run and moves only blocks that differ; the downtime is only the last changes; %s", downtimes)
	}
	return est, nil
}

const basisBound = "no earlier snapshot by failback: at most every allocated byte"

// estimateDisk measures one disk through a temporary snapshot.
// since is how long before now the base snapshot was taken (0 for none).
func (m *Manager) estimateDisk(ctx context.Context, t *target, d targetDisk) (de DiskEstimate, since time.Duration, err error) {
	de, base, err := m.measureDisk(ctx, t, d)
	if base != nil {
		since = m.now().Sub(base.Created)
	}
	return de, since, err
}

// measureDisk measures one disk through a temporary snapshot and says
// which snapshot of failback's the changes were counted from.
func (m *Manager) measureDisk(ctx context.Context, t *target, d targetDisk) (DiskEstimate, *azure.Snapshot, error) {
	de := DiskEstimate{VM: t.vm.Name, Blob: d.ref.String()}
	disk, err := m.openDisk(ctx, d.ref)
	if err != nil {
		return de, nil, fmt.Errorf("disk %s of %s: %w", d.ref, t.vm.Name, err)
	}
	de.Size = disk.Size()
	if md, err := disk.Metadata(ctx); err == nil {
		_, merr := crypt.ParseMetaStrings(md)
		de.Encrypted = merr == nil
	}
	prior, err := disk.ListSnapshots(ctx)
	if err != nil {
		return de, nil, err
	}
	sn, err := disk.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "estimate"})
	if err != nil {
		return de, nil, fmt.Errorf("temporary snapshot of %s: %w", d.ref, err)
	}
	defer func() { _ = disk.DeleteSnapshot(context.WithoutCancel(ctx), sn.ID) }()
	src, err := disk.OpenSnapshot(ctx, sn.ID)
	if err != nil {
		return de, nil, err
	}
	defer func() { _ = src.Close(context.WithoutCancel(ctx)) }()
	alloc, err := src.Allocated(ctx)
	if err != nil {
		return de, nil, err
	}
	for _, e := range alloc {
		de.Allocated += e.Len
	}
	var base *azure.Snapshot
	for i := len(prior) - 1; i >= 0; i-- {
		if prior[i].JobID != "" && prior[i].Purpose != "estimate" {
			base = &prior[i]
			break
		}
	}
	if base == nil {
		de.ChangedEstimate, de.Basis, de.Bound = de.Allocated, basisBound, true
		return de, nil, nil
	}
	ch, err := disk.ChangedRanges(ctx, base.ID, sn.ID)
	if err != nil {
		de.ChangedEstimate, de.Basis, de.Bound = de.Allocated, basisBound, true
		return de, nil, nil
	}
	for _, e := range ch {
		de.ChangedEstimate += e.Len
	}
	de.Basis = fmt.Sprintf("changes since failback's snapshot of %s (job %s)", base.Created.Format(time.DateTime), base.JobID)
	return de, base, nil
}

// imagePresent reports whether a target image exists and holds data.
func (m *Manager) imagePresent(ctx context.Context, t *target, d targetDisk) bool {
	if !d.reachable(t) {
		return true // unknown here; the pre-flight reports the mapping
	}
	im, err := m.inspect(ctx, t, d, false, false)
	if err != nil {
		return true // unknown; the pre-flight says why
	}
	return im.Info != nil && im.Info.AllocatedBytes > 0
}

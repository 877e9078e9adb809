package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
)

// defaultThroughput is assumed until a sync measured one (bytes/s read
// from Azure): 50 MiB/s, a modest WAN.
const defaultThroughput = 50 << 20

// estimateOverhead is the fixed part of a downtime: powering the Azure
// VMs off, snapshots, starting on premises.
const estimateOverhead = time.Minute

// throughputFile is state_dir/throughput.json.
type throughputFile struct {
	BytesPerSecond float64   `json:"bytes_per_second"`
	Updated        time.Time `json:"updated"`
}

func (m *Manager) throughput() (float64, bool) {
	var t throughputFile
	b, err := os.ReadFile(m.paths.throughput())
	if err == nil && json.Unmarshal(b, &t) == nil && t.BytesPerSecond > 0 {
		return t.BytesPerSecond, true
	}
	return defaultThroughput, false
}

// noteThroughput folds a measured read rate into the stored figure.
func (m *Manager) noteThroughput(bps float64) {
	if bps <= 0 {
		return
	}
	old, ok := m.throughput()
	if ok {
		bps = 0.7*old + 0.3*bps
	}
	_ = writeJSONAtomic(m.paths.throughput(), throughputFile{BytesPerSecond: bps, Updated: m.now()})
}

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
	for _, t := range ts {
		for _, d := range t.disks {
			de, err := m.estimateDisk(ctx, t, d)
			if err != nil {
				return Estimate{}, err
			}
			est.Disks = append(est.Disks, de)
			est.FullBytes += de.Allocated
			est.DeltaBytes += de.ChangedEstimate
			if de.Bound {
				known = false
			}
			if !m.imagePresent(ctx, t, d) {
				missing = append(missing, t.vm.Name+" "+hostBase(d.image))
			}
		}
	}
	bps, measured := m.throughput()
	rate := fmt.Sprintf("%s/s assumed", bytesText(int64(bps)))
	if measured {
		rate = fmt.Sprintf("%s/s measured", bytesText(int64(bps)))
	}
	last := est.DeltaBytes
	if cu := m.cfg.Engine.CatchUp; cu.MaxPasses > 0 && cu.StopBelow.Bytes() < last {
		last = cu.StopBelow.Bytes() // catch-up passes leave at most this for phase 2
	}
	est.DeltaDowntime = estimateOverhead + time.Duration(float64(last)/bps*float64(time.Second))
	est.FullDowntime = estimateOverhead + time.Duration(float64(est.FullBytes)/bps*float64(time.Second))
	switch {
	case len(missing) > 0:
		est.Recommended = SyncFull
		est.Why = fmt.Sprintf("the on-premises disk of %s is missing or empty: nothing to compare, a full download writes it without checksums", missing[0])
	case known && est.FullBytes > 0 && est.DeltaBytes*2 > est.FullBytes:
		est.Recommended = SyncFull
		est.Why = fmt.Sprintf("%d%% of the data changed since the last failback snapshot: a full download skips the checksums (%s)", 100*est.DeltaBytes/est.FullBytes, rate)
	case known:
		est.Recommended = SyncDelta
		pct := int64(0)
		if est.FullBytes > 0 {
			pct = 100 * est.DeltaBytes / est.FullBytes
		}
		est.Why = fmt.Sprintf("about %d%% changed since the last failback snapshot: delta moves far less and the Azure VMs run during phase 1 (%s)", pct, rate)
	default:
		est.Recommended = SyncDelta
		est.Why = fmt.Sprintf("the on-premises disks exist: delta checksums both sides while the Azure VMs run and moves only blocks that differ; the downtime is only the last changes (%s)", rate)
	}
	return est, nil
}

const basisBound = "no earlier snapshot by failback: at most every allocated byte"

// estimateDisk measures one disk through a temporary snapshot.
func (m *Manager) estimateDisk(ctx context.Context, t *target, d targetDisk) (DiskEstimate, error) {
	de := DiskEstimate{VM: t.vm.Name, Blob: d.ref.String()}
	disk, err := m.openDisk(ctx, d.ref)
	if err != nil {
		return de, fmt.Errorf("disk %s of %s: %w", d.ref, t.vm.Name, err)
	}
	de.Size = disk.Size()
	if md, err := disk.Metadata(ctx); err == nil {
		_, merr := crypt.ParseMetaStrings(md)
		de.Encrypted = merr == nil
	}
	prior, err := disk.ListSnapshots(ctx)
	if err != nil {
		return de, err
	}
	sn, err := disk.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "estimate"})
	if err != nil {
		return de, fmt.Errorf("temporary snapshot of %s: %w", d.ref, err)
	}
	defer func() { _ = disk.DeleteSnapshot(context.WithoutCancel(ctx), sn.ID) }()
	src, err := disk.OpenSnapshot(ctx, sn.ID)
	if err != nil {
		return de, err
	}
	defer func() { _ = src.Close(context.WithoutCancel(ctx)) }()
	alloc, err := src.Allocated(ctx)
	if err != nil {
		return de, err
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
		return de, nil
	}
	ch, err := disk.ChangedRanges(ctx, base.ID, sn.ID)
	if err != nil {
		de.ChangedEstimate, de.Basis, de.Bound = de.Allocated, basisBound, true
		return de, nil
	}
	for _, e := range ch {
		de.ChangedEstimate += e.Len
	}
	de.Basis = fmt.Sprintf("changes since failback's snapshot of %s (job %s)", base.Created.Format(time.DateTime), base.JobID)
	return de, nil
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

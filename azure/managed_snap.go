package azure

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/engine"
)

// MetaDisk tags a managed disk's snapshot with the disk's id, so listing
// finds it whatever group it was made in.
const MetaDisk = "failbackdisk"

// tib4 is the size across which Azure cannot diff two snapshots of a
// resized disk.
const tib4 = 4 << 40

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// snapshotName names a new snapshot: the disk's name, the step, the time
// (ARM names are at most 80 characters of letters, digits, _ . -).
func snapshotName(disk, purpose string, now time.Time) string {
	disk = nameUnsafe.ReplaceAllString(disk, "-")
	if len(disk) > 40 {
		disk = disk[:40]
	}
	purpose = nameUnsafe.ReplaceAllString(purpose, "-")
	if len(purpose) > 16 {
		purpose = purpose[:16]
	}
	return fmt.Sprintf("%s-fb-%s-%s", disk, purpose, now.UTC().Format("20060102T150405.000"))
}

func (d *managedDisk) CreateSnapshot(ctx context.Context, o SnapshotOptions) (Snapshot, error) {
	if err := d.pace(ctx, o.Waiting); err != nil {
		return Snapshot{}, err
	}
	md := map[string]string{MetaCreatedBy: CreatedByValue, MetaDisk: d.ref.ID}
	for k, v := range o.Metadata {
		md[strings.ToLower(k)] = v
	}
	if o.JobID != "" {
		md[MetaJobID] = o.JobID
	}
	if o.Purpose != "" {
		md[MetaPurpose] = o.Purpose
	}
	tags := map[string]*string{}
	for k, v := range md {
		tags[k] = &v
	}
	name := snapshotName(d.name, o.Purpose, d.m.o.Now())
	rg := d.snapshotGroup()
	loc, inc, copyFrom := d.location(), true, armcompute.DiskCreateOptionCopy
	body := armcompute.Snapshot{Location: &loc, Tags: tags, Properties: &armcompute.SnapshotProperties{
		Incremental:  &inc,
		CreationData: &armcompute.CreationData{CreateOption: &copyFrom, SourceResourceID: &d.ref.ID},
	}}
	cctx, cancel := context.WithTimeout(ctx, d.m.o.ARM.OperationTimeout)
	defer cancel()
	p, err := d.m.snaps.BeginCreateOrUpdate(cctx, rg, name, body, nil)
	for try := 1; err != nil && statusOf(err) == http.StatusConflict && try <= 3; try++ {
		// Refused for the disk's snapshot rate (snapshots made elsewhere
		// count too, and this process cannot see them all): wait a share
		// of the window and try again.
		wait := d.m.o.Window / time.Duration(d.m.o.SnapshotsPerWindow)
		if o.Waiting != nil {
			o.Waiting(wait, "Azure refused a snapshot for now ("+codeOf(err)+"): too many snapshots of the disk in a short time")
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Snapshot{}, ctx.Err()
		case <-t.C:
		}
		p, err = d.m.snaps.BeginCreateOrUpdate(cctx, rg, name, body, nil)
	}
	if err != nil {
		return Snapshot{}, d.m.wrapARM("create snapshot of", d.name, err)
	}
	d.m.notePaced(d.ref.ID, name, d.m.o.Now())
	resp, err := p.PollUntilDone(cctx, &runtime.PollUntilDoneOptions{Frequency: d.m.o.ARM.PollInterval})
	if err != nil {
		return Snapshot{}, d.m.wrapARM("create snapshot of", d.name, err)
	}
	s := managedSnapshot(resp.Snapshot)
	if s.ID == "" {
		s.ID = name
	}
	return s, nil
}

// managedSnapshot is a snapshot resource as a Snapshot: its name is the id.
func managedSnapshot(r armcompute.Snapshot) Snapshot {
	md := map[string]string{}
	for k, v := range r.Tags {
		if v != nil {
			md[strings.ToLower(k)] = *v
		}
	}
	s := Snapshot{Metadata: md}
	if r.Name != nil {
		s.ID = *r.Name
	}
	if p := r.Properties; p != nil && p.TimeCreated != nil {
		s.Created = *p.TimeCreated
	}
	s.JobID, _ = MetadataValue(md, MetaJobID)
	s.Purpose, _ = MetadataValue(md, MetaPurpose)
	return s
}

func (d *managedDisk) ListSnapshots(ctx context.Context) ([]Snapshot, error) {
	var out []Snapshot
	pager := d.m.snaps.NewListByResourceGroupPager(d.snapshotGroup(), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, d.m.wrapARM("list snapshots of", d.name, err)
		}
		for _, r := range page.Value {
			if r == nil {
				continue
			}
			s := managedSnapshot(*r)
			if v, _ := MetadataValue(s.Metadata, MetaCreatedBy); v != CreatedByValue {
				continue
			}
			if !d.isSource(*r) {
				continue
			}
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Snapshot) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// isSource reports whether snapshot r was made of this disk.
func (d *managedDisk) isSource(r armcompute.Snapshot) bool {
	if v := r.Tags[MetaDisk]; v != nil && SameResource(*v, d.ref.ID) {
		return true
	}
	p := r.Properties
	return p != nil && p.CreationData != nil && p.CreationData.SourceResourceID != nil && SameResource(*p.CreationData.SourceResourceID, d.ref.ID)
}

func (d *managedDisk) DeleteSnapshot(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("azure delete snapshot of %s: empty snapshot id", d.name)
	}
	rg := d.snapshotGroup()
	// A snapshot with an active read grant cannot be deleted.
	if err := d.m.revoke(ctx, rg, id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.m.o.ARM.OperationTimeout)
	defer cancel()
	p, err := d.m.snaps.BeginDelete(ctx, rg, id, nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: d.m.o.ARM.PollInterval})
	}
	if err != nil && statusOf(err) != 404 {
		return d.m.wrapARM("delete snapshot", rg+"/"+id, err)
	}
	return nil
}

// snapshot reads one of the disk's snapshots from ARM.
func (d *managedDisk) snapshot(ctx context.Context, id string) (armcompute.Snapshot, int64, error) {
	rg := d.snapshotGroup()
	resp, err := d.m.snaps.Get(ctx, rg, id, nil)
	if err != nil {
		err = d.m.wrapARM("open snapshot", rg+"/"+id, err)
		if se, ok := err.(*StorageError); ok && se.Kind == ErrNotFound {
			se.Hint = "the snapshot does not exist any more; start the job again to take a new snapshot"
		}
		return armcompute.Snapshot{}, 0, err
	}
	s := resp.Snapshot
	if !d.isSource(s) {
		return s, 0, fmt.Errorf("azure snapshot %s/%s was not made of disk %s; it cannot be read as that disk", rg, id, d.name)
	}
	var size int64
	if p := s.Properties; p != nil {
		switch {
		case p.DiskSizeBytes != nil:
			size = *p.DiskSizeBytes
		case p.DiskSizeGB != nil:
			size = int64(*p.DiskSizeGB) << 30
		}
		if p.DataAccessAuthMode != nil && *p.DataAccessAuthMode == armcompute.DataAccessAuthModeAzureActiveDirectory {
			return s, 0, fmt.Errorf("azure snapshot %s of %s: exporting it requires Microsoft Entra ID (dataAccessAuthMode AzureActiveDirectory): failback reads snapshots through a SAS only; set the disk's dataAccessAuthMode to None for the failback (az disk update --data-access-auth-mode None), or grant the identity the 'Data Operator for Managed Disks' role and read it with a token, which failback does not do yet", id, d.name)
		}
	}
	if size <= 0 {
		size = d.Size()
	}
	return s, size, nil
}

func (d *managedDisk) ChangedRanges(ctx context.Context, prev, cur string) ([]engine.Extent, error) {
	if prev == "" || cur == "" {
		return nil, fmt.Errorf("azure changed ranges of %s: both snapshot ids are needed (got %q and %q)", d.name, prev, cur)
	}
	_, psize, err := d.snapshot(ctx, prev)
	if err != nil {
		return nil, fmt.Errorf("the older snapshot: %w", err)
	}
	_, csize, err := d.snapshot(ctx, cur)
	if err != nil {
		return nil, err
	}
	if psize != csize && (psize > tib4) != (csize > tib4) {
		return nil, fmt.Errorf("azure changed ranges of %s: the disk was resized across 4 TiB between the snapshots (%d to %d bytes), and Azure cannot diff across that; compare by checksums instead", d.name, psize, csize)
	}
	var ex []engine.Extent
	err = d.withPair(ctx, prev, cur, func(pu, cu string) error {
		pb, err := d.m.sasClient(cu)
		if err == nil {
			ex, err = listDiffByURL(ctx, pb, pu, csize)
		}
		return err
	})
	if err != nil {
		return nil, wrapErr("diff snapshots", d.name+"@"+cur, err)
	}
	return ex, nil
}

// withPair runs f with the SAS URLs of two snapshots of the disk, granted
// for it, once more with fresh grants if the service refused them. One
// pair per disk at a time: each holds two grants, and pairs waiting for
// their second while holding their first could take every slot of the
// family and wait forever.
func (d *managedDisk) withPair(ctx context.Context, prev, cur string, f func(prevURL, curURL string) error) error {
	family, rg := strings.ToLower(d.ref.ID), d.snapshotGroup()
	unlock := d.m.diffLock(family)
	defer unlock()
	pg, err := d.m.acquire(ctx, rg, prev, family)
	if err != nil {
		return err
	}
	defer func() { _ = d.m.release(context.WithoutCancel(ctx), pg) }()
	cg, err := d.m.acquire(ctx, rg, cur, family)
	if err != nil {
		return err
	}
	defer func() { _ = d.m.release(context.WithoutCancel(ctx), cg) }()
	run := func(force bool) error {
		pu, err := d.m.access(ctx, pg, force)
		if err != nil {
			return err
		}
		cu, err := d.m.access(ctx, cg, force)
		if err != nil {
			return err
		}
		return f(pu, cu)
	}
	err = run(false)
	if err != nil && statusOf(err) == 403 {
		err = run(true)
	}
	return err
}

// listDiffByURL lists the ranges of the blob pb changed since the
// snapshot at prevURL (a managed disk's previous snapshot, by its SAS),
// written and cleared, exact, in [0, limit).
func listDiffByURL(ctx context.Context, pb *pageblob.Client, prevURL string, limit int64) ([]engine.Extent, error) {
	l := rangeList{limit: limit}
	for seg := int64(0); seg < limit; seg += rangeSegment {
		rng := blob.HTTPRange{Offset: seg, Count: min(rangeSegment, limit-seg)}
		pager := pb.NewGetPageRangesDiffPager(&pageblob.GetPageRangesDiffOptions{Range: rng, PrevSnapshotURL: &prevURL})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			l.add(page.PageList)
		}
	}
	return l.extents(), nil
}

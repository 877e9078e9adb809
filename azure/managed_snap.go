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
	"github.com/failback/failback/vdisk"
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

// pace waits, when the disk had SnapshotsPerWindow snapshots within the
// last Window, until the oldest of them leaves it: Azure refuses more.
func (d *managedDisk) pace(ctx context.Context, waiting func(time.Duration, string)) error {
	for {
		recent, err := d.recentSnapshots(ctx)
		if err != nil {
			return err
		}
		if len(recent) < d.m.o.SnapshotsPerWindow {
			return nil
		}
		wait := recent[len(recent)-d.m.o.SnapshotsPerWindow].Add(d.m.o.Window).Sub(d.m.o.Now())
		if wait <= 0 {
			return nil
		}
		wait += time.Second
		if waiting != nil {
			waiting(wait, fmt.Sprintf("Azure allows %d snapshots of a disk per %s", d.m.o.SnapshotsPerWindow, d.m.o.Window))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// recentSnapshots lists when the disk's snapshots within the window were
// made, oldest first: the ones ARM lists (anyone's) and the ones this
// process made (which a listing may not show yet).
func (d *managedDisk) recentSnapshots(ctx context.Context) ([]time.Time, error) {
	since := d.m.o.Now().Add(-d.m.o.Window)
	var out []time.Time
	listed := map[string]bool{}
	pager := d.m.snaps.NewListByResourceGroupPager(d.snapshotGroup(), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, d.m.wrapARM("list snapshots of", d.name, err)
		}
		for _, s := range page.Value {
			if s == nil || s.Properties == nil || s.Properties.CreationData == nil || s.Properties.TimeCreated == nil {
				continue
			}
			cd := s.Properties.CreationData
			if cd.SourceResourceID != nil && SameResource(*cd.SourceResourceID, d.ref.ID) && s.Properties.TimeCreated.After(since) {
				out = append(out, *s.Properties.TimeCreated)
				if s.Name != nil {
					listed[strings.ToLower(*s.Name)] = true
				}
			}
		}
	}
	d.m.mu.Lock()
	// Deleted ones count too: Azure counts snapshots made, not kept.
	for _, p := range d.m.paced[strings.ToLower(d.ref.ID)] {
		if p.at.After(since) && !listed[strings.ToLower(p.name)] {
			out = append(out, p.at)
		}
	}
	d.m.mu.Unlock()
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out, nil
}

// pacedSnap is a snapshot this process asked for, by name and time.
type pacedSnap struct {
	name string
	at   time.Time
}

// notePaced remembers a snapshot this process asked for.
func (m *ManagedDisks) notePaced(id, name string, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := strings.ToLower(id)
	keep := m.paced[key][:0]
	for _, p := range m.paced[key] {
		if t.Sub(p.at) < m.o.Window {
			keep = append(keep, p)
		}
	}
	m.paced[key] = append(keep, pacedSnap{name: name, at: t})
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

func (d *managedDisk) OpenSnapshot(ctx context.Context, id string) (*SnapshotSource, error) {
	if id == "" {
		return nil, fmt.Errorf("azure: open snapshot of %s: no snapshot id given; reads come from snapshots only, never from the live disk", d.name)
	}
	_, size, err := d.snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	rg := d.snapshotGroup()
	g, err := d.m.acquire(ctx, rg, id, strings.ToLower(d.ref.ID))
	if err != nil {
		return nil, err
	}
	obj := d.name + "@" + id
	src := &SnapshotSource{obj: obj, snapshot: id, size: size, rp: d.m.rp,
		close: func(ctx context.Context) error { return d.m.release(ctx, g) }}
	var last string
	src.access = func(ctx context.Context, force bool) (*pageblob.Client, error) {
		u, err := d.m.access(ctx, g, force)
		if err != nil {
			return nil, err
		}
		if u != last || src.pb == nil {
			pb, err := d.m.sasClient(u)
			if err != nil {
				return nil, fmt.Errorf("azure open snapshot %s: the grant's URL is not a blob URL: %w", obj, errOneLine{err})
			}
			src.pb, last = pb, u
		}
		return src.pb, nil
	}
	if err := d.checkBlob(ctx, src, size); err != nil {
		_ = src.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return src, nil
}

// sasClient reads the blob a grant's SAS URL names.
func (m *ManagedDisks) sasClient(url string) (*pageblob.Client, error) {
	return pageblob.NewClientWithNoCredential(url, &pageblob.ClientOptions{ClientOptions: m.read.clientOptions()})
}

// checkBlob checks the granted blob holds the disk: at least its size,
// and where a fixed-VHD footer follows, one that agrees.
func (d *managedDisk) checkBlob(ctx context.Context, src *SnapshotSource, size int64) error {
	var length int64
	err := src.retryDenied(ctx, func(pb *pageblob.Client) error {
		props, err := pb.GetProperties(ctx, nil)
		if err == nil && props.ContentLength != nil {
			length = *props.ContentLength
		}
		return err
	}, false)
	if err != nil {
		return wrapErr("open snapshot", src.obj, err)
	}
	if length < size {
		return &StorageError{Op: "open snapshot", Object: src.obj, Kind: ErrBadFooter,
			Hint: fmt.Sprintf("the granted blob holds %d bytes, less than the disk's %d; take a new snapshot", length, size)}
	}
	if length == size+vdisk.VHDFooterSize {
		buf := make([]byte, vdisk.VHDFooterSize)
		err := src.retryDenied(ctx, func(pb *pageblob.Client) error {
			return downloadRange(ctx, pb, src.obj, buf, size, src.rp, nil)
		}, false)
		if err != nil {
			return err
		}
		if f, err := vdisk.ParseVHDFooter(buf); err == nil && int64(f.CurrentSize) != size {
			return &StorageError{Op: "open snapshot", Object: src.obj, Kind: ErrBadFooter,
				Hint: fmt.Sprintf("its VHD footer says %d bytes, ARM says %d", f.CurrentSize, size)}
		}
	}
	return nil
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
	family := strings.ToLower(d.ref.ID)
	rg := d.snapshotGroup()
	// One diff of a disk at a time: each needs two grants, and diffs
	// waiting for their second while holding their first could take
	// every slot of the family and wait forever.
	unlock := d.m.diffLock(family)
	defer unlock()
	pg, err := d.m.acquire(ctx, rg, prev, family)
	if err != nil {
		return nil, err
	}
	defer func() { _ = d.m.release(context.WithoutCancel(ctx), pg) }()
	cg, err := d.m.acquire(ctx, rg, cur, family)
	if err != nil {
		return nil, err
	}
	defer func() { _ = d.m.release(context.WithoutCancel(ctx), cg) }()
	diff := func(force bool) ([]engine.Extent, error) {
		pu, err := d.m.access(ctx, pg, force)
		if err != nil {
			return nil, err
		}
		cu, err := d.m.access(ctx, cg, force)
		if err != nil {
			return nil, err
		}
		pb, err := d.m.sasClient(cu)
		if err != nil {
			return nil, err
		}
		return listDiffByURL(ctx, pb, pu, csize)
	}
	ex, err := diff(false)
	if err != nil && statusOf(err) == 403 {
		ex, err = diff(true)
	}
	if err != nil {
		return nil, wrapErr("diff snapshots", d.name+"@"+cur, err)
	}
	return ex, nil
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

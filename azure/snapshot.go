package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/failback/failback/engine"
)

// Metadata keys on the snapshots this tool makes. Azure metadata names are
// C# identifiers; Azurite returns them capitalised, so they are compared
// without case.
const (
	MetaCreatedBy = "createdby"
	MetaJobID     = "failbackjob"
	MetaPurpose   = "failbackpurpose"
	// CreatedByValue marks our snapshots, so listing and clean-up never
	// touch snapshots made by backups or by people.
	CreatedByValue = "failback"
)

// SnapshotOptions tag a new snapshot.
type SnapshotOptions struct {
	// JobID is the failback job that owns the snapshot.
	JobID string
	// Purpose says which step took it ("phase1", "phase2", "reverse").
	Purpose string
	// Metadata adds more tags (keys are C# identifiers).
	Metadata map[string]string
	// Waiting, when set, is told when a limit of the service makes the
	// snapshot wait (how long, and why), so the job can say so.
	Waiting func(wait time.Duration, why string)
}

// Snapshot is a snapshot of a disk made by this tool.
type Snapshot struct {
	// ID is the snapshot's opaque timestamp id, used to address it.
	ID       string
	Created  time.Time
	JobID    string
	Purpose  string
	Metadata map[string]string
}

// CreateSnapshot snapshots the disk, tagged as ours. It works while a VM
// holds a lease on the disk: a snapshot needs no lease.
func (d *Disk) CreateSnapshot(ctx context.Context, o SnapshotOptions) (Snapshot, error) {
	md := map[string]string{MetaCreatedBy: CreatedByValue}
	for k, v := range o.Metadata {
		md[strings.ToLower(k)] = v
	}
	if o.JobID != "" {
		md[MetaJobID] = o.JobID
	}
	if o.Purpose != "" {
		md[MetaPurpose] = o.Purpose
	}
	resp, err := d.pb.CreateSnapshot(ctx, &blob.CreateSnapshotOptions{Metadata: toMetadata(md)})
	if err != nil {
		return Snapshot{}, wrapErr("create snapshot", d.Name(), err)
	}
	if resp.Snapshot == nil {
		return Snapshot{}, fmt.Errorf("azure create snapshot %s: the service returned no snapshot id; retry", d.Name())
	}
	return snapshotFrom(*resp.Snapshot, md), nil
}

func snapshotFrom(id string, md map[string]string) Snapshot {
	s := Snapshot{ID: id, Metadata: md}
	s.Created, _ = time.Parse(time.RFC3339Nano, id)
	s.JobID, _ = MetadataValue(md, MetaJobID)
	s.Purpose, _ = MetadataValue(md, MetaPurpose)
	return s
}

// DeleteSnapshot deletes one snapshot of the disk. A snapshot already gone
// is not an error, so clean-up can be repeated.
func (d *Disk) DeleteSnapshot(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("azure delete snapshot of %s: empty snapshot id (that would name the disk itself)", d.Name())
	}
	pb, err := d.pb.WithSnapshot(id)
	if err != nil {
		return fmt.Errorf("azure delete snapshot %q of %s: %w", id, d.Name(), err)
	}
	_, err = pb.Delete(ctx, nil)
	if err != nil && statusOf(err) != 404 {
		return wrapErr("delete snapshot", d.Name()+"@"+id, err)
	}
	return nil
}

// ListSnapshots lists the disk's snapshots that this tool made (tagged
// createdby=failback), oldest first.
func (d *Disk) ListSnapshots(ctx context.Context) ([]Snapshot, error) {
	prefix := d.name
	pager := d.s.container(d.container).NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix:  &prefix,
		Include: container.ListBlobsInclude{Snapshots: true, Metadata: true},
	})
	var out []Snapshot
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, wrapErr("list snapshots", d.Name(), err)
		}
		if page.Segment == nil {
			continue
		}
		for _, it := range page.Segment.BlobItems {
			if it == nil || it.Name == nil || *it.Name != d.name || it.Snapshot == nil || *it.Snapshot == "" {
				continue
			}
			md := normMetadata(it.Metadata)
			if v, _ := MetadataValue(md, MetaCreatedBy); v != CreatedByValue {
				continue
			}
			out = append(out, snapshotFrom(*it.Snapshot, md))
		}
	}
	slices.SortFunc(out, func(a, b Snapshot) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ChangedRanges lists the ranges of the virtual disk that differ between
// snapshot prev (older) and cur (newer): pages written and pages cleared
// since prev, merged and clipped to the virtual size (footer excluded).
// Azure answers exactly; Azurite answers with every allocated range of
// cur (a superset: correct, not minimal). Unlike Allocated, the list is
// kept exact (gaps are not joined): ranges mode transfers what it lists.
func (d *Disk) ChangedRanges(ctx context.Context, prev, cur string) ([]engine.Extent, error) {
	if prev == "" || cur == "" {
		return nil, fmt.Errorf("azure changed ranges of %s: both snapshot ids are needed (got %q and %q)", d.Name(), prev, cur)
	}
	src, err := d.OpenSnapshot(ctx, cur)
	if err != nil {
		return nil, err
	}
	ex, err := listPageRanges(ctx, d.pb, cur, prev, src.Size(), 0)
	if err != nil {
		obj := d.Name() + "@" + cur
		if hasCode(err, "PreviousSnapshotNotFound") {
			return nil, &StorageError{Op: "diff snapshots", Object: obj, Kind: ErrNotFound, Err: err,
				Hint: "the older snapshot " + prev + " is gone; run a full or checksum (delta) sync instead"}
		}
		return nil, wrapErr("diff snapshots", obj, err)
	}
	return ex, nil
}

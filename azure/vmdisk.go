package azure

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/failback/failback/engine"
)

// DiskKind says how Azure stores a VM's disk.
type DiskKind string

// Disk kinds. A VM in Azure today runs on managed disks; page blobs remain
// for older replicas and for the replica reverse replication keeps.
const (
	// KindPageBlob is an unmanaged disk: a fixed VHD in a page blob of a
	// storage account.
	KindPageBlob DiskKind = "page-blob"
	// KindManaged is a managed disk (Microsoft.Compute/disks).
	KindManaged DiskKind = "managed"
)

// DiskRef says which Azure disk is meant, whatever its kind. Config
// entries and job records hold one; OpenVMDisk turns it into a VMDisk.
type DiskRef struct {
	Kind DiskKind `json:"kind"`
	// Container and Blob name a page-blob disk in the storage account.
	Container string `json:"container,omitempty"`
	Blob      string `json:"blob,omitempty"`
	// ResourceGroup and Name name a managed disk; ID is its ARM id when
	// known (discovered from the VM's storage profile).
	ResourceGroup string `json:"resource_group,omitempty"`
	Name          string `json:"name,omitempty"`
	ID            string `json:"id,omitempty"`
}

// PageBlobRef is the reference of the page-blob disk container/blob.
func PageBlobRef(container, blob string) DiskRef {
	return DiskRef{Kind: KindPageBlob, Container: container, Blob: blob}
}

// String names the disk for people: "vhds/web01.vhd" or "web01-os".
func (r DiskRef) String() string {
	if r.Kind == KindManaged {
		return r.Name
	}
	return r.Container + "/" + r.Blob
}

// Short is the disk's own name without its container or group, as log
// lines name a disk next to its VM: "web01.vhd", "web01-os".
func (r DiskRef) Short() string {
	if r.Kind == KindManaged {
		return r.Name
	}
	return r.Blob
}

// Key identifies the disk whatever the spelling: two refs with the same
// key are the same disk (Azure names are case-insensitive for managed
// disks, case-sensitive for blobs).
func (r DiskRef) Key() string {
	if r.Kind == KindManaged {
		if r.ID != "" {
			return "managed:" + strings.ToLower(r.ID)
		}
		return "managed:" + strings.ToLower(r.ResourceGroup+"/"+r.Name)
	}
	return "page-blob:" + r.Container + "/" + r.Blob
}

// Validate says what is missing from a reference.
func (r DiskRef) Validate() error {
	switch r.Kind {
	case KindPageBlob:
		if r.Container == "" || r.Blob == "" {
			return fmt.Errorf("page-blob disk %q: container and blob are both needed", r.String())
		}
	case KindManaged:
		if r.Name == "" && r.ID == "" {
			return errors.New("managed disk: a name or an ARM id is needed")
		}
	default:
		return fmt.Errorf("disk kind %q: want %q or %q", r.Kind, KindPageBlob, KindManaged)
	}
	return nil
}

// ErrKindUnsupported: the opener has no back end for the disk's kind.
var ErrKindUnsupported = errors.New("disk kind not supported here")

// ErrNotWritable: the disk cannot take writes in place.
var ErrNotWritable = errors.New("disk cannot be written in place")

// VMDisk is one Azure disk of a VM, whatever its kind: everything a
// failback does to it. Implementations: *Disk (page blob) and the managed
// disks ManagedDisks opens. Every one
// passes the shared suite in azure/disktest.
//
// Contract. Snapshots are this tool's own (tagged createdby=failback);
// ListSnapshots never returns another's, and DeleteSnapshot of one already
// gone succeeds, so clean-up can be repeated. Reads come from snapshots
// only, never from the live disk. ChangedRanges(prev, cur) covers every
// byte that differs between the two snapshots, cleared (trimmed) pages
// included; it may list more, never less. Errors wrap ErrNotFound for a
// disk or snapshot that does not exist and say what to do.
type VMDisk interface {
	// Ref is the disk's reference.
	Ref() DiskRef
	// Name names the disk in messages.
	Name() string
	// Size is the virtual disk size in bytes, as the VM sees it.
	Size() int64
	// Describe is one line for a pre-flight check ("fixed VHD, 512 MiB,
	// not leased").
	Describe() string
	// SKU is a managed disk's storage type (Premium_LRS); "" for a page
	// blob.
	SKU() string
	// Problem says why failback cannot read this disk's snapshots (nil
	// when it can), with what to do.
	Problem() error
	// Metadata is the disk's metadata (a page blob's) or tags (a managed
	// disk's), keys in lower case.
	Metadata(ctx context.Context) (map[string]string, error)
	// CreateSnapshot snapshots the disk as it is now, tagged as ours.
	CreateSnapshot(ctx context.Context, o SnapshotOptions) (Snapshot, error)
	// ListSnapshots lists our snapshots of the disk, oldest first.
	ListSnapshots(ctx context.Context) ([]Snapshot, error)
	// DeleteSnapshot deletes one of our snapshots (gone already is fine).
	DeleteSnapshot(ctx context.Context, id string) error
	// OpenSnapshot opens a snapshot as the engine's source. Close it when
	// done: it may hold access (a SAS grant) that should end.
	OpenSnapshot(ctx context.Context, id string) (*SnapshotSource, error)
	// ChangedRanges lists what changed from snapshot prev to cur.
	ChangedRanges(ctx context.Context, prev, cur string) ([]engine.Extent, error)
	// ClearedRanges lists the ranges allocated in snapshot prev that are
	// not in cur, from the two snapshots' page listings alone, exact: a
	// check of ChangedRanges that never rests on the diff it checks.
	ClearedRanges(ctx context.Context, prev, cur string) ([]engine.Extent, error)
	// OpenWriter opens the disk for writing in place (reverse
	// replication); ErrNotWritable where the kind cannot.
	OpenWriter(ctx context.Context, o WriterOptions) (*PageBlobTarget, error)
	// Detach is what commit does to the disk once its VM is deleted so
	// that later writes are possible (a page blob: the lease the deleted
	// VM left is broken).
	Detach(ctx context.Context) error
}

// WriterOptions say how OpenWriter takes the disk.
type WriterOptions struct {
	// BreakLease breaks a lease someone else holds first. Only for a disk
	// whose VM is known to be gone (after commit).
	BreakLease bool
	// LeaseID is the lease to take (a UUID): the same id for the same
	// writer, so a writer restarted after a crash takes its own lease
	// back, while a lease of anyone else is refused. "" takes a new one.
	LeaseID string
}

// DiskOpener opens the Azure disks of VMs by reference. The workflow
// reaches Azure disks only through it.
type DiskOpener interface {
	OpenVMDisk(ctx context.Context, ref DiskRef) (VMDisk, error)
}

// Disks opens disks of every kind it has a back end for.
type Disks struct {
	// Storage holds the page-blob disks.
	Storage *Storage
	// Managed opens managed disks through ARM.
	Managed *ManagedDisks
}

var _ DiskOpener = (*Disks)(nil)

// OpenVMDisk implements DiskOpener.
func (d *Disks) OpenVMDisk(ctx context.Context, ref DiskRef) (VMDisk, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	switch ref.Kind {
	case KindPageBlob:
		if d.Storage == nil {
			return nil, fmt.Errorf("page-blob disk %s: %w: no storage account is configured ([azure.storage])", ref, ErrKindUnsupported)
		}
		return d.Storage.OpenVMDisk(ctx, ref)
	case KindManaged:
		if d.Managed == nil {
			return nil, fmt.Errorf("managed disk %s: %w: no Azure subscription is configured ([azure] subscription_id)", ref, ErrKindUnsupported)
		}
		return d.Managed.OpenVMDisk(ctx, ref)
	}
	return nil, fmt.Errorf("disk %s: %w", ref, ErrKindUnsupported)
}

// OpenVMDisk opens a page-blob disk of this storage account.
func (s *Storage) OpenVMDisk(ctx context.Context, ref DiskRef) (VMDisk, error) {
	if ref.Kind != KindPageBlob {
		return nil, fmt.Errorf("disk %s: %w: a storage account holds page-blob disks only", ref, ErrKindUnsupported)
	}
	d, err := s.OpenDisk(ctx, ref.Container, ref.Blob)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Remover is a disk that failback may delete: a managed disk whose VM is
// gone, when [commit] delete_disks says so. Page blobs are never deleted
// by a commit: they are the replica reverse replication writes.
type Remover interface {
	Remove(ctx context.Context) error
}

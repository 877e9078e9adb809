package azure

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/failback/failback/internal/backoff"
)

// Reverse replication of a VM that ran on managed disks cannot write into
// its disks (a managed disk takes no writes while it is a disk), so it
// keeps a replica of each disk: a page blob holding a fixed VHD, in a
// storage account of its own, seeded inside Azure from the snapshot the
// failback kept and then updated with what changed on premises.

// Exporter is a disk whose snapshots can be copied inside Azure: it lends
// a short-lived read URL of a snapshot to a server-side copy, never to the
// caller (the URL is a secret).
type Exporter interface {
	// ExportSnapshot copies the snapshot into dst as the page blob
	// container/name, server-side, and waits until the copy is done.
	ExportSnapshot(ctx context.Context, snapshot string, dst *Storage, container, name string) error
}

var _ Exporter = (*managedDisk)(nil)

// ExportSnapshot copies a snapshot of the managed disk through a read
// grant into dst, server-side.
func (d *managedDisk) ExportSnapshot(ctx context.Context, snapshot string, dst *Storage, container, name string) error {
	if _, _, err := d.snapshot(ctx, snapshot); err != nil {
		return err
	}
	g, err := d.m.acquire(ctx, d.snapshotGroup(), snapshot, strings.ToLower(d.ref.ID))
	if err != nil {
		return err
	}
	defer func() { _ = d.m.release(context.WithoutCancel(ctx), g) }()
	u, err := d.m.access(ctx, g, false)
	if err != nil {
		return err
	}
	return dst.CopyFromURL(ctx, container, name, u)
}

// copyPoll is how often a server-side copy is polled.
const copyPoll = 500 * time.Millisecond

// CopyFromURL makes container/name a copy of the blob at src (a URL this
// account can read, such as a SAS URL), server-side (Start Copy from
// URL), and waits until the copy succeeded. The container is created when
// missing; an existing blob of that name is replaced. src never appears
// in an error.
func (s *Storage) CopyFromURL(ctx context.Context, container, name, src string) error {
	obj := container + "/" + name
	if err := s.CreateContainer(ctx, container); err != nil {
		return err
	}
	bc := s.container(container).NewBlobClient(name)
	resp, err := bc.StartCopyFromURL(ctx, src, nil)
	if err != nil {
		// The source URL travels in a header, never in the error's text.
		return wrapErr("copy into", obj, err)
	}
	if resp.CopyStatus != nil && *resp.CopyStatus == blob.CopyStatusTypeSuccess {
		return nil
	}
	for {
		props, err := bc.GetProperties(ctx, nil)
		if err != nil {
			return wrapErr("copy into", obj, err)
		}
		switch st := props.CopyStatus; {
		case st == nil || *st == blob.CopyStatusTypeSuccess:
			return nil
		case *st == blob.CopyStatusTypeFailed || *st == blob.CopyStatusTypeAborted:
			why := ""
			if props.CopyStatusDescription != nil {
				why = redactErr(*props.CopyStatusDescription, src)
			}
			return fmt.Errorf("azure copy into %s: the copy %s (%s); try again", obj, *st, why)
		}
		if err := backoff.Sleep(ctx, copyPoll); err != nil {
			return err
		}
	}
}

// redactErr drops a secret URL (and its query) from an error text.
func redactErr(text, secret string) string {
	text = strings.ReplaceAll(text, secret, redactURL(secret))
	if i := strings.Index(text, "sig="); i >= 0 {
		text = text[:i] + "[redacted]"
	}
	return text
}

// Replicas is where reverse replication keeps the replicas of managed
// disks: page blobs in one container of a storage account.
type Replicas struct {
	Storage   *Storage
	Container string
}

// Ref is the reference of the replica named name.
func (r *Replicas) Ref(name string) DiskRef { return PageBlobRef(r.Container, name) }

// Seed makes the replica name a copy of src's snapshot, server-side, and
// opens it. A replica already there (a cycle cut short after seeding) is
// opened as it is: the engine's sums say what it holds.
func (r *Replicas) Seed(ctx context.Context, src VMDisk, snapshot, name string) (VMDisk, error) {
	if d, err := r.Storage.OpenVMDisk(ctx, r.Ref(name)); err == nil {
		return d, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	ex, ok := src.(Exporter)
	if !ok {
		return nil, fmt.Errorf("replica of %s: its snapshots cannot be copied inside Azure", src.Name())
	}
	if err := ex.ExportSnapshot(ctx, snapshot, r.Storage, r.Container, name); err != nil {
		return nil, fmt.Errorf("seed the replica %s/%s from %s@%s: %w", r.Container, name, src.Name(), snapshot, err)
	}
	return r.Storage.OpenVMDisk(ctx, r.Ref(name))
}

// Open opens an existing replica by reference.
func (r *Replicas) Open(ctx context.Context, ref DiskRef) (VMDisk, error) {
	return r.Storage.OpenVMDisk(ctx, ref)
}

// PointBlob copies snapshot of the replica into a blob of its own, name,
// in the same container (server-side), and returns its URL without any
// query: a recovery point ready to be imported as a managed disk. The
// account must be reached with a key (connection string or account key)
// or a SAS: the copy needs a readable URL of the snapshot.
func (s *Storage) PointBlob(ctx context.Context, replica DiskRef, snapshot, name string) (string, error) {
	if replica.Kind != KindPageBlob || snapshot == "" {
		return "", fmt.Errorf("recovery point %s@%s: a replica page blob and a snapshot are needed", replica, snapshot)
	}
	pb, err := s.container(replica.Container).NewPageBlobClient(replica.Blob).WithSnapshot(snapshot)
	if err != nil {
		return "", err
	}
	src := pb.URL()
	if !strings.Contains(src, "sig=") {
		if src, err = pb.GetSASURL(sas.BlobPermissions{Read: true}, time.Now().Add(time.Hour), nil); err != nil {
			return "", fmt.Errorf("recovery point %s@%s: a read URL of the snapshot needs the account's key or a SAS ([reverse.storage]); Entra ID alone cannot make one: %w", replica, snapshot, err)
		}
	}
	if err := s.CopyFromURL(ctx, replica.Container, name, src); err != nil {
		return "", err
	}
	return redactURL(s.container(replica.Container).NewBlobClient(name).URL()), nil
}

// PointExporter is a disk whose recovery points (snapshots) can become a
// blob of their own, ready to import as a managed disk.
type PointExporter interface {
	PointBlob(ctx context.Context, snapshot, name string) (string, error)
}

var _ PointExporter = (*Disk)(nil)

// PointBlob copies a snapshot of the page blob into the blob name of the
// same container, server-side; see Storage.PointBlob.
func (d *Disk) PointBlob(ctx context.Context, snapshot, name string) (string, error) {
	return d.s.PointBlob(ctx, d.Ref(), snapshot, name)
}

// AccountID is the storage account's ARM id as configured ("" unknown).
func (s *Storage) AccountID() string { return s.opts.AccountID }

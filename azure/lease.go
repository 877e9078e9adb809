package azure

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
)

// InfiniteLease asks AcquireLease for a lease that lasts until released or
// broken, as a VM holds on its disks.
const InfiniteLease time.Duration = -1

func (s *Storage) leaseClient(container, name, id string) (*lease.BlobClient, error) {
	pb := s.container(container).NewPageBlobClient(name)
	o := &lease.BlobClientOptions{}
	if id != "" {
		o.LeaseID = &id
	}
	lc, err := lease.NewBlobClient(pb, o)
	if err != nil {
		return nil, fmt.Errorf("azure lease %s/%s: %w", container, name, err)
	}
	return lc, nil
}

// AcquireLease takes a lease on a blob for d (15 s to 60 s, or
// InfiniteLease) and returns its id. proposedID (a UUID) may be empty;
// proposing the id we already hold renews nothing but succeeds, so a
// restarted holder can take its own lease back.
func (s *Storage) AcquireLease(ctx context.Context, container, name string, d time.Duration, proposedID string) (string, error) {
	secs := int32(-1)
	if d != InfiniteLease {
		secs = int32(d / time.Second)
		if secs < 15 || secs > 60 {
			return "", fmt.Errorf("azure lease %s/%s: duration %v: Azure allows 15 s to 60 s, or an infinite lease", container, name, d)
		}
	}
	lc, err := s.leaseClient(container, name, proposedID)
	if err != nil {
		return "", err
	}
	resp, err := lc.AcquireLease(ctx, secs, nil)
	if err != nil {
		return "", wrapErr("acquire lease", container+"/"+name, err)
	}
	if resp.LeaseID == nil {
		return "", fmt.Errorf("azure acquire lease %s/%s: no lease id in the answer; retry", container, name)
	}
	return *resp.LeaseID, nil
}

// ReleaseLease gives a lease we hold back.
func (s *Storage) ReleaseLease(ctx context.Context, container, name, id string) error {
	lc, err := s.leaseClient(container, name, id)
	if err != nil {
		return err
	}
	_, err = lc.ReleaseLease(ctx, nil)
	return wrapErr("release lease", container+"/"+name, err)
}

// BreakLease ends whoever's lease is on the blob, at once. Use it only
// when the holder is gone (a deleted VM whose lease lingers).
func (s *Storage) BreakLease(ctx context.Context, container, name string) error {
	lc, err := s.leaseClient(container, name, "")
	if err != nil {
		return err
	}
	zero := int32(0)
	_, err = lc.BreakLease(ctx, &lease.BlobBreakOptions{BreakPeriod: &zero})
	if err != nil && !hasCode(err, "LeaseNotPresentWithLeaseOperation") {
		return wrapErr("break lease", container+"/"+name, err)
	}
	return nil
}

// DeleteDisk deletes a disk blob with all its snapshots. A blob already
// gone is fine. A lease (a VM deleted moments ago still holds one) makes
// the delete fail with ErrLeased unless breakLease is set: then the lease
// is broken and the delete repeated.
func (s *Storage) DeleteDisk(ctx context.Context, container, name string, breakLease bool) error {
	obj := container + "/" + name
	if err := checkUnmanaged(s.svc.URL(), container, name); err != nil {
		return err
	}
	pb := s.container(container).NewPageBlobClient(name)
	inc := blob.DeleteSnapshotsOptionTypeInclude
	del := func() error {
		_, err := pb.Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: &inc})
		if err != nil && statusOf(err) == 404 {
			return nil
		}
		return err
	}
	err := del()
	if err == nil {
		return nil
	}
	if !isLeaseCode(codeOf(err)) {
		return wrapErr("delete disk", obj, err)
	}
	if !breakLease {
		return &StorageError{Op: "delete disk", Object: obj, Status: statusOf(err), Code: codeOf(err), Kind: ErrLeased, Err: err,
			Hint: "the disk is still leased (is its VM deleted? Azure may hold the lease a while after); delete again with the lease broken"}
	}
	if err := s.BreakLease(ctx, container, name); err != nil {
		return err
	}
	return wrapErr("delete disk", obj, del())
}

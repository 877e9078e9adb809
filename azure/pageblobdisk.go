package azure

import (
	"context"
	"fmt"

	"github.com/failback/failback/internal/units"
)

// The page-blob implementation of VMDisk: *Disk.

var _ VMDisk = (*Disk)(nil)

// Ref is the disk's reference.
func (d *Disk) Ref() DiskRef { return PageBlobRef(d.container, d.name) }

// Size is the virtual disk size (the blob less its footer).
func (d *Disk) Size() int64 { return d.VirtualSize() }

// Describe says what the pre-flight found: "fixed VHD, 512 MiB, not
// leased".
func (d *Disk) Describe() string {
	return fmt.Sprintf("fixed VHD, %s, %s", units.Bytes(d.VirtualSize()), LeaseText(d.LeaseState))
}

// SKU is empty: a page blob has no disk SKU.
func (d *Disk) SKU() string { return "" }

// Problem is nil: a page blob that opened is readable.
func (d *Disk) Problem() error { return nil }

// LeaseText says what a blob's lease state means here: a running Azure
// VM holds an infinite lease on its unmanaged disks.
func LeaseText(state string) string {
	switch state {
	case "leased":
		return "leased (attached to a VM)"
	case "available", "":
		return "not leased"
	}
	return "lease " + state
}

// OpenWriter leases the blob and opens it for writing; closing the
// writer releases the lease. With BreakLease a lease someone else holds
// (the deleted VM's) is broken first.
func (d *Disk) OpenWriter(ctx context.Context, o WriterOptions) (*PageBlobTarget, error) {
	if o.BreakLease && d.LeaseState == "leased" {
		if err := d.s.BreakLease(ctx, d.container, d.name); err != nil {
			return nil, err
		}
	}
	id, err := d.s.AcquireLease(ctx, d.container, d.name, InfiniteLease, o.LeaseID)
	if err != nil {
		return nil, fmt.Errorf("lease %s for writing: %w", d.Name(), err)
	}
	t, err := d.WithLease(id).OpenTarget(ctx)
	if err != nil {
		_ = d.s.ReleaseLease(context.WithoutCancel(ctx), d.container, d.name, id)
		return nil, err
	}
	t.close = func(ctx context.Context) error { return d.s.ReleaseLease(ctx, d.container, d.name, id) }
	return t, nil
}

// Detach breaks the lease a deleted VM leaves on its disk blob, so that
// reverse replication can write.
func (d *Disk) Detach(ctx context.Context) error {
	if err := d.s.BreakLease(ctx, d.container, d.name); err != nil {
		return fmt.Errorf("break the deleted VM's lease on %s: %w", d.Name(), err)
	}
	return nil
}

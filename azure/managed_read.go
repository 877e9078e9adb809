package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/vdisk"
)

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
	src := &SnapshotSource{obj: obj, snapshot: id, size: size, rp: d.m.rp, thr: d.m.read.throttle,
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
	src.url = func(ctx context.Context, force bool) (Access, error) {
		u, err := d.m.access(ctx, g, force)
		if err != nil {
			return Access{}, err
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		return Access{URL: NewSecret(u), Expires: g.expires}, nil
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
	length, err := src.blobLength(ctx)
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

package azure

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/vdisk"
)

// clearedSegment is how much of a disk ClearedRanges compares at a time:
// the exact listings of one segment are all it holds, whatever the disk's
// size (a 1 GiB segment lists at most 2^21 pages).
const clearedSegment = 1 << 30

// clearedBetween compares two snapshots' exact page listings segment by
// segment and returns what prev had allocated that cur has not.
func clearedBetween(ctx context.Context, prev, cur *pageblob.Client, size int64) ([]engine.Extent, error) {
	var out []engine.Extent
	for seg := int64(0); seg < size; seg += clearedSegment {
		rng := blob.HTTPRange{Offset: seg, Count: min(clearedSegment, size-seg)}
		p, err := exactListing(ctx, prev, rng, size)
		if err != nil {
			return nil, err
		}
		c, err := exactListing(ctx, cur, rng, size)
		if err != nil {
			return nil, err
		}
		out = append(out, vdisk.SubtractExtents(p, c)...)
	}
	return vdisk.NormalizeExtents(out, size), nil
}

// exactListing lists the allocated pages of a blob (or snapshot) within
// rng, merged only where they touch, clipped to limit.
func exactListing(ctx context.Context, pb *pageblob.Client, rng blob.HTTPRange, limit int64) ([]engine.Extent, error) {
	l := rangeList{limit: limit}
	pager := pb.NewGetPageRangesPager(&pageblob.GetPageRangesOptions{Range: rng})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		l.add(page.PageList)
	}
	return l.extents(), nil
}

// ClearedRanges lists what snapshot prev had allocated that cur has not,
// from the snapshots' listings (the virtual disk only).
func (d *Disk) ClearedRanges(ctx context.Context, prev, cur string) ([]engine.Extent, error) {
	if prev == "" || cur == "" {
		return nil, fmt.Errorf("azure cleared ranges of %s: both snapshot ids are needed", d.Name())
	}
	p, err := d.pb.WithSnapshot(prev)
	if err != nil {
		return nil, err
	}
	c, err := d.pb.WithSnapshot(cur)
	if err != nil {
		return nil, err
	}
	ex, err := clearedBetween(ctx, p, c, d.VirtualSize())
	return ex, wrapErr("list page ranges", d.Name()+"@"+prev+".."+cur, err)
}

// ClearedRanges lists what snapshot prev had allocated that cur has not,
// through read grants on both.
func (d *managedDisk) ClearedRanges(ctx context.Context, prev, cur string) ([]engine.Extent, error) {
	if prev == "" || cur == "" {
		return nil, fmt.Errorf("azure cleared ranges of %s: both snapshot ids are needed", d.name)
	}
	_, size, err := d.snapshot(ctx, cur)
	if err != nil {
		return nil, err
	}
	var ex []engine.Extent
	err = d.withPair(ctx, prev, cur, func(pu, cu string) error {
		p, err := d.m.sasClient(pu)
		if err != nil {
			return err
		}
		c, err := d.m.sasClient(cu)
		if err != nil {
			return err
		}
		ex, err = clearedBetween(ctx, p, c, size)
		return err
	})
	return ex, wrapErr("list page ranges", d.name+"@"+prev+".."+cur, err)
}

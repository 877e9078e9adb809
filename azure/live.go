package azure

import (
	"context"

	"github.com/failback/failback/engine"
)

// LiveAllocated lists the ranges of the disk that hold data now (the
// blob itself, not a snapshot), merged with short gaps joined as the
// reads of a pass merge them: every byte a pass started now would read
// lies in them. It changes nothing (no snapshot, no lease): the
// pre-flight uses it to bound how much the on-premises images can grow.
// Managed disks have no such listing without a snapshot or a grant.
func (d *Disk) LiveAllocated(ctx context.Context) ([]engine.Extent, error) {
	size := d.VirtualSize()
	return listPageRanges(ctx, d.pb, "", "", size, allocGranule(size))
}

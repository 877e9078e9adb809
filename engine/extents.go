package engine

import (
	"fmt"

	"github.com/failback/failback/vdisk"
)

// rangeRuns turns caller ranges into the block runs they touch. A range
// past the end of the disk is refused: it means the caller computed it for
// another disk.
func rangeRuns(ranges []Extent, size, bs int64) ([]blockRun, error) {
	for _, e := range ranges {
		if e.Off < 0 || e.Len < 0 || e.End() > size || e.End() < e.Off {
			return nil, fmt.Errorf("range [%d, +%d) lies outside the %d-byte disk: compute ranges for this disk", e.Off, e.Len, size)
		}
	}
	var runs []blockRun
	for _, e := range vdisk.NormalizeExtents(ranges, size) {
		r := blockRun{first: e.Off / bs, end: (e.End() + bs - 1) / bs}
		if n := len(runs); n > 0 && r.first <= runs[n-1].end {
			runs[n-1].end = max(runs[n-1].end, r.end)
			continue
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// allocCursor answers "is anything allocated in [off, end)" for queries
// whose offsets never decrease, in amortised constant time.
type allocCursor struct {
	ext []Extent
	i   int
}

func newCursor(ext []Extent) *allocCursor { return &allocCursor{ext: ext} }

// any reports whether [off, end) intersects an allocated range.
func (c *allocCursor) any(off, end int64) bool {
	for c.i < len(c.ext) && c.ext[c.i].End() <= off {
		c.i++
	}
	return c.i < len(c.ext) && c.ext[c.i].Off < end
}

// next returns the first allocated offset at or after off, or limit.
func (c *allocCursor) next(off, limit int64) int64 {
	for c.i < len(c.ext) && c.ext[c.i].End() <= off {
		c.i++
	}
	if c.i == len(c.ext) {
		return limit
	}
	return min(max(c.ext[c.i].Off, off), limit)
}

// blocksToExtents merges sorted block numbers into byte extents.
func blocksToExtents(blocks []int64, bs, size int64) []Extent {
	var out []Extent
	for _, b := range blocks {
		off := b * bs
		end := min(off+bs, size)
		if n := len(out); n > 0 && out[n-1].End() == off {
			out[n-1].Len = end - out[n-1].Off
			continue
		}
		out = append(out, Extent{Off: off, Len: end - off})
	}
	return out
}

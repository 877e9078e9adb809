package engine

import (
	"fmt"
	"slices"
)

// normalizeExtents returns in sorted, merged (overlapping and adjacent
// ranges joined), without empty ranges, clipped to [0, size). It copies:
// callers' slices are never modified. Sources and targets promise sorted,
// disjoint lists; the engine does not rely on it, as a wrong list would
// make it skip data.
func normalizeExtents(in []Extent, size int64) []Extent {
	out := make([]Extent, 0, len(in))
	for _, e := range in {
		off, end := max(e.Off, 0), min(e.End(), size)
		if e.Len <= 0 || end <= off {
			continue
		}
		out = append(out, Extent{Off: off, Len: end - off})
	}
	slices.SortFunc(out, func(a, b Extent) int {
		switch {
		case a.Off < b.Off:
			return -1
		case a.Off > b.Off:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, e := range out {
		if n := len(merged); n > 0 && e.Off <= merged[n-1].End() {
			last := &merged[n-1]
			last.Len = max(last.End(), e.End()) - last.Off
			continue
		}
		merged = append(merged, e)
	}
	return merged
}

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
	for _, e := range normalizeExtents(ranges, size) {
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

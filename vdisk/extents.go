package vdisk

import (
	"cmp"
	"slices"
)

// NormalizeExtents returns in sorted, with overlapping and adjacent ranges
// merged, empty ones dropped and everything clipped to [0, size). It
// copies: in is never modified. Lists from other code (a page-range API, a
// caller's ranges) may be unsorted or overlapping; a wrong list taken as
// is would make a reader skip data.
func NormalizeExtents(in []Extent, size int64) []Extent {
	out := make([]Extent, 0, len(in))
	for _, e := range in {
		off, end := max(e.Off, 0), min(e.End(), size)
		if e.Len <= 0 || end <= off {
			continue
		}
		out = append(out, Extent{Off: off, Len: end - off})
	}
	slices.SortFunc(out, func(a, b Extent) int { return cmp.Compare(a.Off, b.Off) })
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

// SubtractExtents returns the parts of a not covered by b. Both must be
// sorted and non-overlapping (NormalizeExtents); so is the result.
func SubtractExtents(a, b []Extent) []Extent {
	var out []Extent
	j := 0
	for _, e := range a {
		off, end := e.Off, e.End()
		for j < len(b) && b[j].End() <= off {
			j++
		}
		for k := j; k < len(b) && b[k].Off < end; k++ {
			if b[k].Off > off {
				out = append(out, Extent{Off: off, Len: b[k].Off - off})
			}
			off = max(off, b[k].End())
		}
		if off < end {
			out = append(out, Extent{Off: off, Len: end - off})
		}
	}
	return out
}

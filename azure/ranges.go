package azure

import (
	"context"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/engine"
)

// pageSize is the page-blob page: every write, clear and range is aligned
// to it.
const pageSize = 512

// maxPutPage is the largest Put Page Azure accepts (Azurite takes more; we
// hold ourselves to Azure's limit).
const maxPutPage = 4 << 20

// rangeSegment is how much of a blob one Get Page Ranges call covers: on
// a large, fragmented blob Azure answers a whole-blob listing slowly or
// times out, and recommends asking by segments.
const rangeSegment = 64 << 30

// pageRangeExtent converts the service's inclusive [Start, End] range.
func pageRangeExtent(start, end *int64) (engine.Extent, bool) {
	if start == nil || end == nil || *end < *start {
		return engine.Extent{}, false
	}
	return engine.Extent{Off: *start, Len: *end - *start + 1}, true
}

// allocGranule is the shortest unwritten gap an Allocated list keeps as a
// gap: at least 1 MiB (the engine's default block, which a shorter gap
// cannot free anyway), and large enough that the list has at most about
// 2^20 entries (16 MiB) for any disk size. Azure tracks pages of 512
// bytes, so a blob written every other page would otherwise list one
// range per KiB of disk. A gap taken for data reads as zeros (the service
// returns zeros for unwritten pages), which the engine detects: correct,
// as vdisk does for raw images.
func allocGranule(size int64) int64 { return max(1<<20, size>>20) }

// mergeExtents sorts extents, joins overlapping and adjacent ones and
// those less than gap apart (gap 0: exact), and clips them to [0, limit).
// Azurite lists every write as its own range and Azure may split ranges
// across pages of a listing, so callers always merge. Merging again after
// more extents arrive gives the same list as merging them all at once.
func mergeExtents(in []engine.Extent, limit, gap int64) []engine.Extent {
	ex := make([]engine.Extent, 0, len(in))
	for _, e := range in {
		if e.Off < 0 {
			e.Len += e.Off
			e.Off = 0
		}
		if e.End() > limit {
			e.Len = limit - e.Off
		}
		if e.Len > 0 {
			ex = append(ex, e)
		}
	}
	slices.SortFunc(ex, func(a, b engine.Extent) int {
		switch {
		case a.Off < b.Off:
			return -1
		case a.Off > b.Off:
			return 1
		}
		return 0
	})
	out := ex[:0]
	for _, e := range ex {
		if n := len(out); n > 0 && (e.Off <= out[n-1].End() || e.Off-out[n-1].End() < gap) {
			if e.End() > out[n-1].End() {
				out[n-1].Len = e.End() - out[n-1].Off
			}
			continue
		}
		out = append(out, e)
	}
	return slices.Clip(out)
}

// rangeList gathers the pages of a listing into merged extents as they
// arrive, so that what it holds is bounded by the merged list (plus one
// page of the listing), not by how fragmented the blob is.
type rangeList struct {
	ex     []engine.Extent
	merged int // len(ex) after the last merge
	limit  int64
	gap    int64
}

func (l *rangeList) add(pl pageblob.PageList) {
	l.ex = append(l.ex, pageListExtents(pl)...)
	if len(l.ex) > 2*l.merged+4096 {
		l.ex = mergeExtents(l.ex, l.limit, l.gap)
		l.merged = len(l.ex)
	}
}

func (l *rangeList) extents() []engine.Extent { return mergeExtents(l.ex, l.limit, l.gap) }

// pageListExtents turns one Get Page Ranges (Diff) answer into extents:
// written ranges and, for a diff, cleared ranges too, because a page
// cleared since the older snapshot reads as zero now and the copy must
// learn that. The result is not merged; see mergeExtents.
func pageListExtents(pl pageblob.PageList) []engine.Extent {
	out := make([]engine.Extent, 0, len(pl.PageRange)+len(pl.ClearRange))
	for _, r := range pl.PageRange {
		if r == nil {
			continue
		}
		if e, ok := pageRangeExtent(r.Start, r.End); ok {
			out = append(out, e)
		}
	}
	for _, r := range pl.ClearRange {
		if r == nil {
			continue
		}
		if e, ok := pageRangeExtent(r.Start, r.End); ok {
			out = append(out, e)
		}
	}
	return out
}

// listPageRanges lists the allocated ranges of a blob or snapshot (when
// prevSnapshot is set: the ranges changed since it) in [0, limit), by
// segments, following continuation markers, merged with gaps under gap
// joined (0: exact).
func listPageRanges(ctx context.Context, pb *pageblob.Client, snapshot, prevSnapshot string, limit, gap int64) ([]engine.Extent, error) {
	l := rangeList{limit: limit, gap: gap}
	for seg := int64(0); seg < limit; seg += rangeSegment {
		rng := blob.HTTPRange{Offset: seg, Count: min(rangeSegment, limit-seg)}
		var err error
		if prevSnapshot == "" {
			err = listSegment(ctx, pb, snapshot, rng, &l)
		} else {
			err = listDiffSegment(ctx, pb, snapshot, prevSnapshot, rng, &l)
		}
		if err != nil {
			return nil, err
		}
	}
	return l.extents(), nil
}

func listSegment(ctx context.Context, pb *pageblob.Client, snapshot string, rng blob.HTTPRange, l *rangeList) error {
	o := &pageblob.GetPageRangesOptions{Range: rng}
	if snapshot != "" {
		o.Snapshot = &snapshot
	}
	pager := pb.NewGetPageRangesPager(o)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		l.add(page.PageList)
	}
	return nil
}

func listDiffSegment(ctx context.Context, pb *pageblob.Client, snapshot, prev string, rng blob.HTTPRange, l *rangeList) error {
	o := &pageblob.GetPageRangesDiffOptions{Range: rng, PrevSnapshot: &prev}
	if snapshot != "" {
		o.Snapshot = &snapshot
	}
	pager := pb.NewGetPageRangesDiffPager(o)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		l.add(page.PageList)
	}
	return nil
}

// intersect returns the parts of the sorted, merged list ex that fall in
// [off, off+n).
func intersect(ex []engine.Extent, off, n int64) []engine.Extent {
	end := off + n
	i, _ := slices.BinarySearchFunc(ex, off, func(e engine.Extent, t int64) int {
		if e.End() <= t {
			return -1
		}
		return 1
	})
	var out []engine.Extent
	for ; i < len(ex) && ex[i].Off < end; i++ {
		s, e := max(ex[i].Off, off), min(ex[i].End(), end)
		if e > s {
			out = append(out, engine.Extent{Off: s, Len: e - s})
		}
	}
	return out
}

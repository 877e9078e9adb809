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

// mergeExtents sorts extents, joins overlapping and adjacent ones, and
// clips them to [0, limit). Azurite lists every write as its own range and
// Azure may split ranges across pages of a listing, so callers always merge.
func mergeExtents(in []engine.Extent, limit int64) []engine.Extent {
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
		if n := len(out); n > 0 && e.Off <= out[n-1].End() {
			if e.End() > out[n-1].End() {
				out[n-1].Len = e.End() - out[n-1].Off
			}
			continue
		}
		out = append(out, e)
	}
	return slices.Clip(out)
}

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

// pageListsToExtents turns the pages of a Get Page Ranges (Diff) listing
// into the sorted, merged extents of [0, limit): it is the one place that
// interprets the service's answer.
func pageListsToExtents(lists []pageblob.PageList, limit int64) []engine.Extent {
	var all []engine.Extent
	for _, pl := range lists {
		all = append(all, pageListExtents(pl)...)
	}
	return mergeExtents(all, limit)
}

// listPageRanges lists the allocated ranges of a blob or snapshot (when
// prevSnapshot is set: the ranges changed since it) in [0, limit), by
// segments, following continuation markers, merged.
func listPageRanges(ctx context.Context, pb *pageblob.Client, snapshot, prevSnapshot string, limit int64) ([]engine.Extent, error) {
	var lists []pageblob.PageList
	for seg := int64(0); seg < limit; seg += rangeSegment {
		rng := blob.HTTPRange{Offset: seg, Count: min(rangeSegment, limit-seg)}
		var err error
		if prevSnapshot == "" {
			lists, err = listSegment(ctx, pb, snapshot, rng, lists)
		} else {
			lists, err = listDiffSegment(ctx, pb, snapshot, prevSnapshot, rng, lists)
		}
		if err != nil {
			return nil, err
		}
	}
	return pageListsToExtents(lists, limit), nil
}

func listSegment(ctx context.Context, pb *pageblob.Client, snapshot string, rng blob.HTTPRange, acc []pageblob.PageList) ([]pageblob.PageList, error) {
	o := &pageblob.GetPageRangesOptions{Range: rng}
	if snapshot != "" {
		o.Snapshot = &snapshot
	}
	pager := pb.NewGetPageRangesPager(o)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		acc = append(acc, page.PageList)
	}
	return acc, nil
}

func listDiffSegment(ctx context.Context, pb *pageblob.Client, snapshot, prev string, rng blob.HTTPRange, acc []pageblob.PageList) ([]pageblob.PageList, error) {
	o := &pageblob.GetPageRangesDiffOptions{Range: rng, PrevSnapshot: &prev}
	if snapshot != "" {
		o.Snapshot = &snapshot
	}
	pager := pb.NewGetPageRangesDiffPager(o)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		acc = append(acc, page.PageList)
	}
	return acc, nil
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

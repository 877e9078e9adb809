package engine

import (
	"slices"
	"sort"
	"sync"
)

// undoIndex knows which blocks at or past the resume watermark already
// have an undo record, so none is journaled twice: a second record would
// save bytes this job wrote (or half wrote) instead of the original ones.
// Blocks below the watermark are never looked at again, so they need no
// entry: the index is bounded by the work between two checkpoints plus
// one entry per unallocated run of the target.
type undoIndex struct {
	mu     sync.Mutex
	blocks map[int64]bool // single-block records of earlier runs
	ranges []zeroRange    // zero-range records, sorted and disjoint
}

// zeroRange is a zero-range record: blocks [first, end) were unallocated;
// seq is its undo log sequence number (0: durable in an earlier run).
type zeroRange struct {
	first, end int64
	seq        uint64
}

func newUndoIndex() *undoIndex { return &undoIndex{blocks: map[int64]bool{}} }

// load adds a record of an earlier run, keeping what lies at or past w.
func (x *undoIndex) load(r undoRec, w int64) {
	if r.kind != recZeroRange {
		if r.block >= w {
			x.blocks[r.block] = true
		}
		return
	}
	if first := max(r.block, w); first < r.end {
		x.insert(zeroRange{first: first, end: r.end})
	}
}

func (x *undoIndex) insert(z zeroRange) {
	i := sort.Search(len(x.ranges), func(i int) bool { return x.ranges[i].first >= z.first })
	x.ranges = slices.Insert(x.ranges, i, z)
}

// covering returns the zero range holding b.
func (x *undoIndex) covering(b int64) (zeroRange, bool) {
	i := sort.Search(len(x.ranges), func(i int) bool { return x.ranges[i].end > b })
	if i < len(x.ranges) && x.ranges[i].first <= b {
		return x.ranges[i], true
	}
	return zeroRange{}, false
}

// has reports whether b already has an undo record.
func (x *undoIndex) has(b int64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.blocks[b] {
		return true
	}
	_, ok := x.covering(b)
	return ok
}

// journalZeroRun makes sure block b, unallocated when this run started,
// is covered by a zero-range record, appending one for the largest run of
// such blocks around b that no other record covers (from, the first block
// this run may touch, on), and returns the record's sequence number for
// undoLog.durable. gapFirst and gapEnd bound the unallocated run of the
// target around b.
func (x *undoIndex) journalZeroRun(u *undoLog, b, from, gapFirst, gapEnd int64) (uint64, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if z, ok := x.covering(b); ok {
		return z.seq, nil
	}
	if x.blocks[b] {
		// An earlier run saved b (durably) while it held data, then
		// released it; that record has the original bytes.
		return 0, nil
	}
	first, end := max(gapFirst, from), gapEnd
	// Never cover a block that has its own record: rollback applies
	// records in order, and a later zero-range would wipe restored bytes.
	for j := range x.blocks {
		if j < b {
			first = max(first, j+1)
		} else if j > b {
			end = min(end, j)
		}
	}
	i := sort.Search(len(x.ranges), func(i int) bool { return x.ranges[i].first > b })
	if i < len(x.ranges) {
		end = min(end, x.ranges[i].first)
	}
	if i > 0 {
		first = max(first, x.ranges[i-1].end)
	}
	seq, err := u.add(recZeroRange, first, end, nil)
	if err != nil {
		return 0, err
	}
	x.insert(zeroRange{first: first, end: end, seq: seq})
	return seq, nil
}

// gapAround returns the blocks [first, end) that lie wholly inside the
// unallocated gap of ext (sorted, merged) holding block b, which must not
// intersect ext.
func gapAround(ext []Extent, b, bs, size int64) (first, end int64) {
	off := b * bs
	i := sort.Search(len(ext), func(i int) bool { return ext[i].End() > off })
	gapStart, gapEnd := int64(0), size
	if i > 0 {
		gapStart = ext[i-1].End()
	}
	if i < len(ext) {
		gapEnd = ext[i].Off
	}
	first = (gapStart + bs - 1) / bs
	if gapEnd == size {
		end = (size + bs - 1) / bs
	} else {
		end = gapEnd / bs
	}
	return first, end
}

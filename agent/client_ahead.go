package agent

import (
	"context"
	"sort"
	"strconv"
	"sync"

	"github.com/failback/failback/engine"
)

// Read-ahead of checksums. The engine asks for the sums of one batch of
// blocks, waits for them, then reads and hashes its own side of those
// blocks before it asks for the next batch: without read-ahead the agent
// idles while the target is read, and the target idles while the agent
// reads Azure. The engine asks for the allocated blocks in ascending
// order, which the client knows from the allocation list, so it asks the
// agent for the next windows while the engine works on this one. Sums
// that the engine never asks for (it stopped, or started over to verify)
// are dropped: at most aheadDepth windows of agent work are wasted.
const (
	aheadWindow = 256 // blocks per read-ahead request: the engine's batch
	aheadDepth  = 2   // windows asked for ahead of the engine
)

// window is one read-ahead request of sums.
type window struct {
	bs     int64
	blocks []int64 // ascending
	sums   []engine.Sum
	n      int           // sums[:n] arrived; valid once done is closed
	done   chan struct{} // closed when the request ended
}

func (w *window) last() int64 { return w.blocks[len(w.blocks)-1] }

// readAhead holds the windows in flight or arrived, ascending, disjoint.
type readAhead struct {
	mu       sync.Mutex
	bs       int64
	windows  []*window
	frontier int64 // highest block asked for, by the engine or ahead
}

// take fills out[i] for the blocks the windows hold, waiting for windows
// still in flight, and reports which it filled. Windows entirely below
// blocks[0] are stale (the engine moved past or started over) and go.
func (s *Source) takeAhead(ctx context.Context, bs int64, blocks []int64, out []engine.Sum, have []bool) error {
	ra := &s.ahead
	ra.mu.Lock()
	if ra.bs != bs {
		ra.bs, ra.windows, ra.frontier = bs, nil, -1
	}
	var use []*window
	keep := ra.windows[:0]
	for _, w := range ra.windows {
		if w.last() < blocks[0] || w.blocks[0] > blocks[len(blocks)-1]+aheadWindow*aheadDepth {
			continue // stale, or not the engine's sequence
		}
		keep = append(keep, w)
		if w.blocks[0] <= blocks[len(blocks)-1] {
			use = append(use, w)
		}
	}
	ra.windows = keep
	if len(keep) == 0 {
		ra.frontier = -1
	}
	ra.mu.Unlock()
	for _, w := range use {
		select {
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		for i, b := range blocks {
			j := sort.Search(len(w.blocks), func(j int) bool { return w.blocks[j] >= b })
			if j < w.n && w.blocks[j] == b {
				out[i], have[i] = w.sums[j], true
			}
		}
	}
	return nil
}

// scheduleAhead drops the windows the engine is done with and asks for
// the next ones after last, keeping aheadDepth in flight.
func (s *Source) scheduleAhead(bs, last int64) {
	if s.alloc == nil {
		return
	}
	if down, _ := s.agentState(); down {
		return
	}
	ra := &s.ahead
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.bs != bs {
		return
	}
	keep := ra.windows[:0]
	for _, w := range ra.windows {
		if w.last() > last {
			keep = append(keep, w)
		}
	}
	ra.windows = keep
	ra.frontier = max(ra.frontier, last)
	for len(ra.windows) < aheadDepth {
		next := allocatedBlocks(s.alloc, bs, s.size, ra.frontier+1, aheadWindow)
		if len(next) == 0 {
			return
		}
		w := &window{bs: bs, blocks: next, sums: make([]engine.Sum, len(next)), done: make(chan struct{})}
		ra.windows = append(ra.windows, w)
		ra.frontier = w.last()
		go func() {
			defer close(w.done)
			// One try: a failure leaves the rest to the engine's own
			// request, which retries and falls back.
			id := s.reqPrefix + "-ahead-" + strconv.FormatUint(s.reqSeq.Add(1), 10)
			w.n, _ = s.sumsAttempt(s.bg, id, bs, w.blocks, w.sums)
		}()
	}
}

// allocatedBlocks lists up to limit blocks from block from on that hold
// allocated bytes, ascending: the blocks the engine asks sums for.
func allocatedBlocks(alloc []engine.Extent, bs, size, from int64, limit int) []int64 {
	var out []int64
	nblocks := (size + bs - 1) / bs
	i := sort.Search(len(alloc), func(i int) bool { return alloc[i].End() > from*bs })
	for b := from; i < len(alloc) && len(out) < limit && b < nblocks; i++ {
		e := alloc[i]
		// b only grows: a block covering the end of one extent and the
		// start of the next is listed once.
		for b = max(b, e.Off/bs); b*bs < e.End() && len(out) < limit && b < nblocks; b++ {
			out = append(out, b)
		}
	}
	return out
}

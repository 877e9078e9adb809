package engine

import "sync"

// tracker knows which blocks are finished, for resume checkpoints. It keeps
// the set of blocks in flight, not of blocks done, so its size is bounded
// by the pipeline's width whatever the disk size: the watermark (every
// block below it finished) is the lowest block in flight, or the
// dispatcher's position when none is.
type tracker struct {
	mu      sync.Mutex
	pending map[int64]struct{}
	next    int64 // every block below it was handed out or is finished
}

func newTracker(from int64) *tracker {
	return &tracker{pending: map[int64]struct{}{}, next: from}
}

// start marks block b handed to the pipeline.
func (t *tracker) start(b int64) {
	t.mu.Lock()
	t.pending[b] = struct{}{}
	t.next = b + 1
	t.mu.Unlock()
}

// skipTo records that every block below b not in flight is finished.
func (t *tracker) skipTo(b int64) {
	t.mu.Lock()
	t.next = max(t.next, b)
	t.mu.Unlock()
}

// finish marks block b finished.
func (t *tracker) finish(b int64) {
	t.mu.Lock()
	delete(t.pending, b)
	t.mu.Unlock()
}

// watermark is the first block that may not be finished.
func (t *tracker) watermark() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.next
	for b := range t.pending {
		w = min(w, b)
	}
	return w
}

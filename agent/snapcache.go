package agent

import (
	"context"
	"sync"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
)

// snapEntry is an opened snapshot with its allocated ranges, which never
// change: a snapshot is immutable.
type snapEntry struct {
	ready chan struct{} // closed once src, alloc and err are set
	src   *azure.SnapshotSource
	alloc []engine.Extent
	err   error
	used  uint64 // last use, for eviction
}

// snapCache keeps recently used snapshots open, so the hundreds of
// requests of one disk's sync do not each cost the three or four storage
// calls of opening it and listing its pages.
type snapCache struct {
	st  *azure.Storage
	max int

	mu    sync.Mutex
	m     map[snapRef]*snapEntry
	clock uint64
}

func newSnapCache(st *azure.Storage, max int) *snapCache {
	return &snapCache{st: st, max: max, m: map[snapRef]*snapEntry{}}
}

// get returns the opened snapshot, opening it once for concurrent callers.
// Failures are not cached: the next request tries again.
func (c *snapCache) get(ctx context.Context, r snapRef) (*snapEntry, error) {
	c.mu.Lock()
	c.clock++
	e, ok := c.m[r]
	if ok {
		e.used = c.clock
		c.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil {
			return nil, e.err
		}
		return e, nil
	}
	e = &snapEntry{ready: make(chan struct{}), used: c.clock}
	c.m[r] = e
	c.evict()
	c.mu.Unlock()

	e.src, e.alloc, e.err = c.open(ctx, r)
	close(e.ready)
	if e.err != nil {
		c.mu.Lock()
		if c.m[r] == e {
			delete(c.m, r)
		}
		c.mu.Unlock()
		return nil, e.err
	}
	return e, nil
}

// open reads only: the disk's properties and footer, the snapshot's
// properties and footer, and its page ranges.
func (c *snapCache) open(ctx context.Context, r snapRef) (*azure.SnapshotSource, []engine.Extent, error) {
	d, err := c.st.OpenDisk(ctx, r.container, r.blob)
	if err != nil {
		return nil, nil, err
	}
	src, err := d.OpenSnapshot(ctx, r.snapshot)
	if err != nil {
		return nil, nil, err
	}
	alloc, err := src.Allocated(ctx)
	if err != nil {
		return nil, nil, err
	}
	return src, alloc, nil
}

// evict drops the least recently used opened entries beyond max; c.mu is
// held. Requests still using an evicted entry keep their pointer.
func (c *snapCache) evict() {
	for len(c.m) > c.max {
		var oldest snapRef
		var min uint64 = ^uint64(0)
		for k, e := range c.m {
			select {
			case <-e.ready:
			default:
				continue // being opened: keep
			}
			if e.used < min {
				oldest, min = k, e.used
			}
		}
		if min == ^uint64(0) {
			return
		}
		delete(c.m, oldest)
	}
}

package workflow

import (
	"context"
	"sync"
)

// hub tells subscribers that something changed. A notice is a value on a
// channel with room for one: sending never blocks, and many changes
// between two reads coalesce into one notice. Readers then ask the
// service for the state, so a slow reader (a far SSH session) costs the
// engine nothing and never sees stale data.
type hub struct {
	mu      sync.Mutex
	version uint64
	subs    map[int]chan struct{}
	next    int
	wake    chan struct{} // closed at each notice, for long polls
}

func newHub() *hub {
	return &hub{subs: map[int]chan struct{}{}, wake: make(chan struct{})}
}

// notify records a change and wakes every subscriber without blocking.
func (h *hub) notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.version++
	for _, ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default: // a notice is already pending: coalesced
		}
	}
	close(h.wake)
	h.wake = make(chan struct{})
}

// subscribe implements Service.Subscribe.
func (h *hub) subscribe() (<-chan struct{}, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	ch := make(chan struct{}, 1)
	h.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, id)
			h.mu.Unlock()
		})
	}
}

// wait returns the version once it is past since, or when ctx ends (then
// with the current version).
func (h *hub) wait(ctx context.Context, since uint64) uint64 {
	for {
		h.mu.Lock()
		v, wake := h.version, h.wake
		h.mu.Unlock()
		if v != since {
			return v
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return v
		}
	}
}

//go:build unix

package vdisk

import (
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"golang.org/x/sys/unix"
)

var pageSize = int64(os.Getpagesize())

// viewWindow is the size of one memory map: large enough that mapping
// and unmapping (a TLB flush on every core running the process) cost
// little per block, small enough that the few kept mapped stay a bounded
// part of the page cache.
const viewWindow = 8 << 20

// viewWindows is how many idle windows an image keeps mapped: the
// readers of a sync work on neighbouring blocks, so they share the
// newest few. Windows in use are never unmapped; they go once released.
const viewWindows = 4

// views maps windows of a flat image's file on demand and keeps the
// latest few (the zero value is ready).
type views struct {
	mu     sync.Mutex
	wins   []*window
	tick   uint64
	closed bool
}

// window is one mapping of [start, start+len(data)) of the file.
type window struct {
	start, size int64
	data        []byte        // nil until ready is closed, and if the map failed
	ready       chan struct{} // closed once data is set
	refs        int
	used        uint64
	evicted     bool
}

// View lends f the bytes [off, off+n) of a flat image through a memory
// map of the file, so a caller comparing blocks hashes the page cache's
// own bytes instead of a copy. A range past the file's end (a file
// shorter than the virtual size) is not mapped: ErrNoView. A fault while
// f reads (the file cut short meanwhile) is an error, not a crash.
func (r *flatImage) View(off, n int64, f func(p []byte)) (err error) {
	if off < 0 || n < 0 || n > r.size-off {
		return fmt.Errorf("%w: view %d bytes at %d of a disk of %d", ErrOutOfRange, n, off, r.size)
	}
	if n == 0 {
		f(nil)
		return nil
	}
	w, err := r.views.get(r.f, off, n)
	if err != nil {
		return err
	}
	defer r.views.put(w)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			if _, fault := v.(interface{ Addr() uintptr }); !fault {
				panic(v)
			}
			err = fmt.Errorf("%s: read at %d failed (the file changed under the sync?): %v", r.info.Path, off, v)
		}
	}()
	at := off - w.start
	f(w.data[at : at+n])
	return nil
}

// get returns a mapped window holding [off, off+n), referenced. The map
// (populated: its pages are set up in one call rather than faulted in)
// is made outside the lock, so readers of other windows go on meanwhile;
// readers of the same window wait for it.
func (v *views) get(f *os.File, off, n int64) (*window, error) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil, ErrNoView
	}
	v.tick++
	for _, w := range v.wins {
		if !w.evicted && off >= w.start && off+n <= w.start+w.size {
			w.refs++
			w.used = v.tick
			v.mu.Unlock()
			<-w.ready
			if w.data == nil {
				v.put(w)
				return nil, ErrNoView
			}
			return w, nil
		}
	}
	// A range across a window's end gets a mapping of its own.
	start := off &^ (viewWindow - 1)
	end := start + viewWindow
	if off+n > end {
		start, end = off&^(pageSize-1), off+n
	}
	st, err := f.Stat()
	if err != nil || st.Size() < off+n {
		v.mu.Unlock()
		return nil, ErrNoView
	}
	end = min(end, st.Size())
	// The window it replaces (one covering less of the file, which has
	// grown since) and the least recently used beyond the few kept go.
	for _, w := range v.wins {
		if w.start == start && !w.evicted {
			v.evict(w)
		}
	}
	if v.live() >= viewWindows {
		var lru *window
		for _, w := range v.wins {
			if !w.evicted && (lru == nil || w.used < lru.used) {
				lru = w
			}
		}
		v.evict(lru)
	}
	w := &window{start: start, size: end - start, refs: 1, used: v.tick, ready: make(chan struct{})}
	v.wins = append(v.wins, w)
	v.mu.Unlock()
	m, err := unix.Mmap(int(f.Fd()), start, int(end-start), unix.PROT_READ, mapFlags)
	if err == nil {
		w.data = m
	}
	close(w.ready)
	if err != nil {
		v.mu.Lock()
		v.evict(w)
		v.mu.Unlock()
		v.put(w)
		return nil, ErrNoView
	}
	return w, nil
}

// live counts the windows not evicted.
func (v *views) live() int {
	n := 0
	for _, w := range v.wins {
		if !w.evicted {
			n++
		}
	}
	return n
}

// put releases a window got from get.
func (v *views) put(w *window) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w.refs--
	if w.evicted && w.refs == 0 {
		v.unmap(w)
	}
}

// evict takes w out of use: unmapped now if idle, else by its last put.
func (v *views) evict(w *window) {
	w.evicted = true
	if w.refs == 0 {
		v.unmap(w)
	}
}

func (v *views) unmap(w *window) {
	if w.data != nil {
		unix.Munmap(w.data)
	}
	for i, x := range v.wins {
		if x == w {
			v.wins = append(v.wins[:i], v.wins[i+1:]...)
			break
		}
	}
}

// close unmaps every window; views after it are refused (ErrNoView).
func (v *views) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	for len(v.wins) > 0 {
		w := v.wins[0]
		w.refs = 0
		v.evict(w)
	}
}

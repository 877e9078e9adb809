package workflow

import (
	"context"
	"sync"
	"time"

	"github.com/failback/failback/azure"
)

// The console's first screen lists every plan with its disks and sizes,
// and Plans takes no context: it must answer at once. So Plans never
// calls Azure. It reads this cache, which a background lookup fills (at
// Open, then whenever Plans finds an entry missing or older than
// sizeTTL), and which the pre-flight and the estimate update as they
// open the disks anyway. A finished lookup notifies the hub, so the
// console can ask Plans again.

// sizeTTL is how long a looked-up size (or the reason it could not be
// read) is shown before Plans asks again.
const sizeTTL = 30 * time.Second

// sizeTimeout bounds one blob's lookup.
const sizeTimeout = 15 * time.Second

// sizeParallel bounds the concurrent lookups.
const sizeParallel = 4

// sizeEntry is what is known about one blob.
type sizeEntry struct {
	size    int64
	err     string
	when    time.Time // of the answer; zero while none
	reading bool
}

// sizeCache maps a configured disk (by its reference's key) to its
// virtual size. Its zero value is ready.
type sizeCache struct {
	mu      sync.Mutex
	entries map[string]*sizeEntry
}

func (c *sizeCache) entry(ref azure.DiskRef) *sizeEntry {
	if c.entries == nil {
		c.entries = map[string]*sizeEntry{}
	}
	e := c.entries[ref.Key()]
	if e == nil {
		e = &sizeEntry{}
		c.entries[ref.Key()] = e
	}
	return e
}

// get returns what is known of a disk and whether it should be read
// (again); a disk it says to read is marked as being read.
func (c *sizeCache) get(ref azure.DiskRef, now time.Time) (size int64, why string, read bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(ref)
	if !e.reading && (e.when.IsZero() || now.Sub(e.when) > sizeTTL) {
		e.reading, read = true, true
	}
	return e.size, e.err, read
}

// set records an answer for a disk (err "" when the size was read).
func (c *sizeCache) set(ref azure.DiskRef, size int64, err string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(ref)
	if err != "" {
		e.size = 0
	} else {
		e.size = size
	}
	e.err, e.when, e.reading = err, now, false
}

// abandon forgets that a disk was being read (the lookup never ran).
func (c *sizeCache) abandon(ref azure.DiskRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entry(ref).reading = false
}

// learnSize records a size the pre-flight or the estimate read.
func (m *Manager) learnSize(ref azure.DiskRef, size int64) {
	m.sizes.set(ref, size, "", m.deps.Now())
}

// diskSize is what Plans shows of a configured disk: its size, or why
// it is unknown. Missing or old entries are queued for lookup.
func (m *Manager) diskSize(ref azure.DiskRef, queue *[]azure.DiskRef) (int64, string) {
	if m.deps.Disks == nil {
		return 0, "not read: this view of the jobs has no connection to Azure storage"
	}
	size, why, read := m.sizes.get(ref, m.deps.Now())
	if read {
		*queue = append(*queue, ref)
	}
	return size, why
}

// prefetchSizes starts the lookup of every disk that Plans will show.
func (m *Manager) prefetchSizes() {
	if m.deps.Disks == nil {
		return
	}
	var queue []azure.DiskRef
	for _, vm := range m.cfg.VMs {
		for _, d := range vm.Disks {
			m.diskSize(diskRef(d), &queue)
		}
	}
	m.readSizes(queue)
}

// readSizes looks the disks up in the background, a few at a time,
// and tells the hub when it has answers. It never blocks the caller.
func (m *Manager) readSizes(refs []azure.DiskRef) {
	if len(refs) == 0 {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		for _, r := range refs {
			m.sizes.abandon(r)
		}
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		sem := make(chan struct{}, sizeParallel)
		var wg sync.WaitGroup
		for _, r := range refs {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				m.readSize(r)
			}()
		}
		wg.Wait()
		m.hub.notify()
	}()
}

// readSize opens one disk as the pre-flight does (for a page blob: a
// valid fixed-VHD footer, whose size is the blob's less the footer) and
// records the size or the reason it cannot be read.
func (m *Manager) readSize(ref azure.DiskRef) {
	ctx, cancel := context.WithTimeout(m.ctx, sizeTimeout)
	defer cancel()
	disk, err := m.openDisk(ctx, ref)
	switch {
	case m.ctx.Err() != nil:
		m.sizes.abandon(ref)
	case err != nil:
		m.sizes.set(ref, 0, err.Error(), m.deps.Now())
	default:
		m.sizes.set(ref, disk.Size(), "", m.deps.Now())
	}
}

package workflow

import (
	"context"
	"strings"
	"sync"
	"time"
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

// sizeCache maps a disk's configured blob ("container/name.vhd") to its
// virtual size. Its zero value is ready.
type sizeCache struct {
	mu      sync.Mutex
	entries map[string]*sizeEntry
}

func (c *sizeCache) entry(blob string) *sizeEntry {
	if c.entries == nil {
		c.entries = map[string]*sizeEntry{}
	}
	e := c.entries[blob]
	if e == nil {
		e = &sizeEntry{}
		c.entries[blob] = e
	}
	return e
}

// get returns what is known of blob and whether it should be read
// (again); a blob it says to read is marked as being read.
func (c *sizeCache) get(blob string, now time.Time) (size int64, why string, read bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(blob)
	if !e.reading && (e.when.IsZero() || now.Sub(e.when) > sizeTTL) {
		e.reading, read = true, true
	}
	return e.size, e.err, read
}

// set records an answer for blob (err "" when the size was read).
func (c *sizeCache) set(blob string, size int64, err string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(blob)
	if err != "" {
		e.size = 0
	} else {
		e.size = size
	}
	e.err, e.when, e.reading = err, now, false
}

// abandon forgets that blob was being read (the lookup never ran).
func (c *sizeCache) abandon(blob string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entry(blob).reading = false
}

// learnSize records a size the pre-flight or the estimate read.
func (m *Manager) learnSize(blob string, size int64) {
	m.sizes.set(blob, size, "", m.deps.Now())
}

// diskSize is what Plans shows of a configured disk: its size, or why
// it is unknown. Missing or old entries are queued for lookup.
func (m *Manager) diskSize(blob string, queue *[]string) (int64, string) {
	if m.deps.Storage == nil {
		return 0, "not read: this view of the jobs has no connection to Azure storage"
	}
	size, why, read := m.sizes.get(blob, m.deps.Now())
	if read {
		*queue = append(*queue, blob)
	}
	return size, why
}

// allBlobs lists every configured disk blob.
func (m *Manager) allBlobs() []string {
	var out []string
	for _, vm := range m.cfg.VMs {
		for _, d := range vm.Disks {
			out = append(out, d.Blob)
		}
	}
	return out
}

// prefetchSizes starts the lookup of every disk that Plans will show.
func (m *Manager) prefetchSizes() {
	if m.deps.Storage == nil {
		return
	}
	var queue []string
	for _, b := range m.allBlobs() {
		m.diskSize(b, &queue)
	}
	m.readSizes(queue)
}

// readSizes looks the blobs up in the background, a few at a time,
// and tells the hub when it has answers. It never blocks the caller.
func (m *Manager) readSizes(blobs []string) {
	if len(blobs) == 0 {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		for _, b := range blobs {
			m.sizes.abandon(b)
		}
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		sem := make(chan struct{}, sizeParallel)
		var wg sync.WaitGroup
		for _, b := range blobs {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				m.readSize(b)
			}()
		}
		wg.Wait()
		m.hub.notify()
	}()
}

// readSize opens one disk as the pre-flight does (a page blob with a
// valid fixed-VHD footer: its length less the 512-byte footer is the
// virtual size) and records the size or the reason it cannot be read.
func (m *Manager) readSize(blob string) {
	ctx, cancel := context.WithTimeout(m.ctx, sizeTimeout)
	defer cancel()
	container, name, _ := strings.Cut(blob, "/")
	disk, err := m.deps.Storage.OpenDisk(ctx, container, name)
	switch {
	case m.ctx.Err() != nil:
		m.sizes.abandon(blob)
	case err != nil:
		m.sizes.set(blob, 0, err.Error(), m.deps.Now())
	default:
		m.sizes.set(blob, disk.VirtualSize(), "", m.deps.Now())
	}
}

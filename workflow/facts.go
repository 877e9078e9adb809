package workflow

import (
	"context"
	"sync"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
)

// The console's first screen lists every plan with its disks: the Azure
// disk each one is (a managed disk's name comes from the VM's storage
// profile), its size and SKU. Plans takes no context: it must answer at
// once, so it never calls Azure. It reads this cache, which a background
// lookup fills per VM (at Open, then whenever Plans finds an entry
// missing or older than factTTL), and which the pre-flight and the
// estimate update as they open the disks anyway. A finished lookup
// notifies the hub, so the console can ask Plans again.

// factTTL is how long what a lookup found (or why it failed) is shown
// before Plans asks again.
const factTTL = 30 * time.Second

// factTimeout bounds one VM's lookup.
const factTimeout = 15 * time.Second

// factParallel bounds the concurrent lookups.
const factParallel = 4

// diskFacts is what a lookup found of one configured disk.
type diskFacts struct {
	ref  azure.DiskRef // zero when not found
	size int64
	sku  string
	err  string
}

// vmFacts is what is known about one configured VM's disks.
type vmFacts struct {
	disks   []diskFacts
	when    time.Time // of the answer; zero while none
	reading bool
}

// factCache maps configured VM names to their facts. Its zero value is
// ready.
type factCache struct {
	mu sync.Mutex
	vm map[string]*vmFacts
}

func (c *factCache) entry(vm string) *vmFacts {
	if c.vm == nil {
		c.vm = map[string]*vmFacts{}
	}
	e := c.vm[vm]
	if e == nil {
		e = &vmFacts{}
		c.vm[vm] = e
	}
	return e
}

// get returns what is known of a VM's disks and whether it should be read
// (again); a VM it says to read is marked as being read.
func (c *factCache) get(vm string, now time.Time) (disks []diskFacts, read bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(vm)
	if !e.reading && (e.when.IsZero() || now.Sub(e.when) > factTTL) {
		e.reading, read = true, true
	}
	return append([]diskFacts(nil), e.disks...), read
}

// set records a lookup's answer.
func (c *factCache) set(vm string, disks []diskFacts, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(vm)
	e.disks, e.when, e.reading = disks, now, false
}

// learn records one disk the pre-flight or the estimate opened.
func (c *factCache) learn(vm string, n, k int, f diskFacts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(vm)
	if len(e.disks) != n {
		e.disks = make([]diskFacts, n)
	}
	e.disks[k] = f
}

// abandon forgets that a VM was being read (the lookup never ran).
func (c *factCache) abandon(vm string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entry(vm).reading = false
}

// learnDisk records what the pre-flight or the estimate found of disk k
// of a VM.
func (m *Manager) learnDisk(vm *config.VM, k int, disk azure.VMDisk) {
	m.facts.learn(vm.Name, len(vm.Disks), k, diskFacts{ref: disk.Ref(), size: disk.Size(), sku: disk.SKU()})
}

// vmFactsFor is what Plans shows of a VM's disks (one entry per
// configured disk); a VM with no answer yet, or an old one, is queued.
func (m *Manager) vmFactsFor(vm *config.VM, queue *[]*config.VM) []diskFacts {
	if m.deps.Disks == nil {
		out := make([]diskFacts, len(vm.Disks))
		for i := range out {
			out[i].err = "not read: this view of the jobs has no connection to Azure"
		}
		return out
	}
	disks, read := m.facts.get(vm.Name, m.deps.Now())
	if read {
		*queue = append(*queue, vm)
	}
	if len(disks) != len(vm.Disks) {
		disks = make([]diskFacts, len(vm.Disks))
	}
	return disks
}

// prefetchFacts starts the lookup of every VM that Plans will show.
func (m *Manager) prefetchFacts() {
	if m.deps.Disks == nil {
		return
	}
	var queue []*config.VM
	for i := range m.cfg.VMs {
		m.vmFactsFor(&m.cfg.VMs[i], &queue)
	}
	m.readFacts(queue)
}

// readFacts looks the VMs up in the background, a few at a time, and
// tells the hub when it has answers. It never blocks the caller.
func (m *Manager) readFacts(vms []*config.VM) {
	if len(vms) == 0 {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		for _, vm := range vms {
			m.facts.abandon(vm.Name)
		}
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		sem := make(chan struct{}, factParallel)
		var wg sync.WaitGroup
		for _, vm := range vms {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				m.readVMFacts(vm)
			}()
		}
		wg.Wait()
		m.hub.notify()
	}()
}

// readVMFacts finds a VM's disks in its storage profile and opens each
// as the pre-flight does (for a page blob: a valid fixed-VHD footer,
// whose size is the blob's less the footer), recording sizes, SKUs, or
// why a disk cannot be read.
func (m *Manager) readVMFacts(vm *config.VM) {
	ctx, cancel := context.WithTimeout(m.ctx, factTimeout)
	defer cancel()
	a := m.inspectVM(ctx, vm)
	out := make([]diskFacts, len(vm.Disks))
	for k, ref := range a.refs {
		out[k].ref = ref
		if ref.Kind == "" {
			out[k].err = "not in the Azure VM's storage profile"
			if a.err != nil {
				out[k].err = "the Azure VM cannot be read: " + a.err.Error()
			}
			continue
		}
		disk, err := m.openDisk(ctx, ref)
		if err != nil {
			out[k].err = err.Error()
			continue
		}
		out[k].size, out[k].sku = disk.Size(), disk.SKU()
	}
	if m.ctx.Err() != nil {
		m.facts.abandon(vm.Name)
		return
	}
	m.facts.set(vm.Name, out, m.deps.Now())
}

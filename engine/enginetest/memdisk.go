// Package enginetest holds test doubles for the engine's interfaces, shared
// by the tests of the engine and of the packages built on it (agent, azure,
// crypt). It imports vdisk, not engine (engine.Extent is vdisk.Extent), so
// that the engine's own in-package tests can use it without an import
// cycle.
package enginetest

import (
	"context"
	"fmt"
	"sync"

	"github.com/failback/failback/vdisk"
)

// MemDisk is an in-memory disk that is both an engine.Source and an
// engine.Target (with Zeroer). It
// allocates in chunks, as a sparse image does: any write allocates the
// chunks it touches (even a write of zeros), WriteZeroes releases whole
// chunks, and Allocated lists the allocated chunks, so tests can check
// what a sync allocated.
type MemDisk struct {
	size  int64
	chunk int64

	mu     sync.RWMutex
	chunks map[int64][]byte
}

// DefaultMemChunk is MemDisk's allocation unit when none is given.
const DefaultMemChunk = 64 << 10

// NewMemDisk returns an empty (all unallocated, all zero) disk of size
// bytes allocating in chunks of chunk bytes (0 = DefaultMemChunk).
func NewMemDisk(size, chunk int64) *MemDisk {
	if chunk <= 0 {
		chunk = DefaultMemChunk
	}
	return &MemDisk{size: size, chunk: chunk, chunks: map[int64][]byte{}}
}

// Size is the disk size in bytes.
func (m *MemDisk) Size() int64 { return m.size }

// Chunk is the allocation unit in bytes, the unit of AllocatedChunk.
func (m *MemDisk) Chunk() int64 { return m.chunk }

func (m *MemDisk) check(ctx context.Context, n int, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if off < 0 || off+int64(n) > m.size {
		return fmt.Errorf("memdisk: [%d, +%d) outside %d bytes", off, n, m.size)
	}
	return nil
}

// ReadAt reads p at off; unallocated chunks read as zeros.
func (m *MemDisk) ReadAt(ctx context.Context, p []byte, off int64) error {
	if err := m.check(ctx, len(p), off); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for len(p) > 0 {
		c, in := off/m.chunk, off%m.chunk
		n := min(int64(len(p)), m.chunk-in)
		if data, ok := m.chunks[c]; ok {
			copy(p[:n], data[in:])
		} else {
			clear(p[:n])
		}
		p, off = p[n:], off+n
	}
	return nil
}

// WriteAt writes p at off, allocating the chunks it touches.
func (m *MemDisk) WriteAt(ctx context.Context, p []byte, off int64) error {
	if err := m.check(ctx, len(p), off); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(p) > 0 {
		c, in := off/m.chunk, off%m.chunk
		n := min(int64(len(p)), m.chunk-in)
		data, ok := m.chunks[c]
		if !ok {
			data = make([]byte, min(m.chunk, m.size-c*m.chunk))
			m.chunks[c] = data
		}
		copy(data[in:], p[:n])
		p, off = p[n:], off+n
	}
	return nil
}

// WriteZeroes makes [off, off+n) read as zeros, releasing whole chunks.
func (m *MemDisk) WriteZeroes(ctx context.Context, off, n int64) error {
	if err := m.check(ctx, 0, off+n); err != nil || n < 0 || off < 0 {
		return fmt.Errorf("memdisk: zero [%d, +%d): %w", off, n, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for end := off + n; off < end; {
		c, in := off/m.chunk, off%m.chunk
		k := min(end-off, m.chunk-in)
		if data, ok := m.chunks[c]; ok {
			if in == 0 && k == int64(len(data)) {
				delete(m.chunks, c)
			} else {
				clear(data[in : in+k])
			}
		}
		off += k
	}
	return nil
}

// Allocated lists the allocated chunks, merged (nil when none is).
func (m *MemDisk) Allocated(ctx context.Context) ([]vdisk.Extent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	var ext []vdisk.Extent
	for c, data := range m.chunks {
		ext = append(ext, vdisk.Extent{Off: c * m.chunk, Len: int64(len(data))})
	}
	m.mu.RUnlock()
	if ext == nil {
		return nil, nil
	}
	return vdisk.NormalizeExtents(ext, m.size), nil // sorts and merges neighbours
}

// Flush does nothing: memory is as durable as it gets.
func (m *MemDisk) Flush(ctx context.Context) error { return ctx.Err() }

// Bytes returns a copy of the whole disk.
func (m *MemDisk) Bytes() []byte {
	p := make([]byte, m.size)
	_ = m.ReadAt(context.Background(), p, 0)
	return p
}

// AllocatedChunk reports whether chunk c (of the chunk size) is allocated.
func (m *MemDisk) AllocatedChunk(c int64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.chunks[c]
	return ok
}

// Clone returns an independent copy, allocation included.
func (m *MemDisk) Clone() *MemDisk {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := NewMemDisk(m.size, m.chunk)
	for k, v := range m.chunks {
		c.chunks[k] = append([]byte(nil), v...)
	}
	return c
}

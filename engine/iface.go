package engine

import (
	"context"

	"github.com/failback/failback/vdisk"
)

// Extent is the byte range [Off, Off+Len) of a disk.
type Extent = vdisk.Extent

// Source is the disk the engine copies from: an Azure page-blob snapshot, a
// decrypting wrapper around one, the Azure-side agent, or a local image.
//
// Contract: ReadAt and Allocated are safe for concurrent use. ReadAt fills
// all of p or returns an error; implementations retry transient failures
// themselves and return errors that are permanent (a missing blob, refused
// credentials, a range past the end). ReadAt must be idempotent: the engine
// may read the same range again after a restart.
type Source interface {
	// Size is the virtual disk size in bytes.
	Size() int64
	ReadAt(ctx context.Context, p []byte, off int64) error
	// Allocated lists sorted, non-overlapping ranges that may hold non-zero
	// data; everything else reads as zero and is never read by the engine.
	Allocated(ctx context.Context) ([]Extent, error)
}

// Target is the disk the engine writes: an on-premises image, or a page
// blob for reverse replication.
//
// Contract: ReadAt, WriteAt and Allocated are safe for concurrent use on
// distinct blocks. WriteAt writes all of p or returns an error. Flush makes
// every completed WriteAt durable; the engine calls it before it records a
// block as finished in its resume journal.
type Target interface {
	Size() int64
	ReadAt(ctx context.Context, p []byte, off int64) error
	WriteAt(ctx context.Context, p []byte, off int64) error
	// Allocated lists ranges that may hold non-zero data; the rest reads as
	// zero, so an all-zero source block equals it without reading.
	Allocated(ctx context.Context) ([]Extent, error)
	Flush(ctx context.Context) error
}

// Zeroer is an optional Target method: make [off, off+n) read as zeros,
// releasing space where the target can (a VHDX block unmapped, page-blob
// pages cleared). The engine uses it instead of writing zero blocks.
type Zeroer interface {
	WriteZeroes(ctx context.Context, off, n int64) error
}

// BlockHasher is an optional Source method, implemented by the Azure-side
// agent: it computes block checksums next to the data, so in delta mode only
// checksums and differing blocks cross the WAN. Checksums are Sum values of
// the plaintext block (HashBlock), blocks numbered from 0 at blockSize.
type BlockHasher interface {
	HashBlocks(ctx context.Context, blockSize int64, blocks []int64) ([]Sum, error)
}

// Deallocator is an optional Target method set, implemented by images
// that can give blocks back (dynamic VHDX and VHD). Rollback uses it so
// that blocks unallocated before a sync are unallocated again afterwards
// and the image file gives their space back to the volume.
type Deallocator interface {
	// Deallocate makes [off, off+n) read as zeros, its whole blocks
	// unallocated as if never written (the rest zeroed in place).
	Deallocate(ctx context.Context, off, n int64) error
	// Trim makes every completed write durable, as Flush, then gives back
	// the space of the file that no block uses any more.
	Trim(ctx context.Context) error
}

// Viewer is an optional Source and Target method, implemented for local
// images that can lend their bytes (a memory map): View calls f with the
// disk's bytes [off, off+n), read-only, for the call only. Delta mode
// then hashes the page cache's own bytes and copies only the blocks that
// differ. ErrNoView (the disk, or that range, cannot be viewed) makes
// the engine read instead.
type Viewer interface {
	View(ctx context.Context, off, n int64, f func(p []byte)) error
}

// ErrNoView says a Viewer cannot lend these bytes: read them.
var ErrNoView = vdisk.ErrNoView

// Package vdisk reads and writes the on-premises virtual disk formats that
// Hyper-V uses (VHDX, VHD) and raw images, in pure Go, behind one interface.
//
// It is its own package rather than part of hyperv/ because the sync
// engine, the Azure side (whose page blobs end in a fixed-VHD footer), the
// lab and the image commands all use it, and none of them should depend on
// Hyper-V host control.
//
// Every byte the product writes on premises goes through here, so images it
// writes must pass `qemu-img check` and `qemu-img compare`, and images other
// tools write must read back identical to `qemu-img convert -O raw`.
package vdisk

import (
	"errors"
	"fmt"
)

// Format names an on-disk image format.
type Format string

// The supported formats.
const (
	VHDX Format = "vhdx"
	VHD  Format = "vhd"
	Raw  Format = "raw"
)

// Extent is the byte range [Off, Off+Len) of a virtual disk.
type Extent struct {
	Off int64 `json:"off"`
	Len int64 `json:"len"`
}

// End is the first byte past the extent.
func (e Extent) End() int64 { return e.Off + e.Len }

// Image is an open virtual disk. Offsets are virtual (what the guest sees).
//
// ReadAt and WriteAt are safe for concurrent use by many goroutines, as the
// sync engine writes blocks in parallel. Reads of never-written space return
// zeros. Writes past Size fail.
type Image interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Size is the virtual size in bytes.
	Size() int64
	// Allocated lists, sorted and merged, the ranges that may hold non-zero
	// data; everything outside reads as zero, so callers can skip it. The
	// list has one entry per run of allocated blocks, not per block, and
	// may include short unallocated stretches, so that its length stays
	// bounded whatever the fragmentation.
	Allocated() ([]Extent, error)
	// Flush makes every completed write durable (data and metadata).
	Flush() error
	// Close flushes and releases the image.
	Close() error
	// Info describes the image.
	Info() Info
}

// Zeroer is implemented by images that can turn a range into zeros without
// writing them, releasing space where the format allows (a VHDX block
// becomes unmapped/zero, a raw file gets a hole). Ranges may be unaligned;
// partial blocks are written with zeros.
type Zeroer interface {
	WriteZeroes(off, n int64) error
}

// Info describes an image.
type Info struct {
	Path        string `json:"path"`
	Format      Format `json:"format"`
	Fixed       bool   `json:"fixed"`
	VirtualSize int64  `json:"virtual_size"`
	// BlockSize is the allocation unit (0 for raw).
	BlockSize int64 `json:"block_size"`
	// LogicalSector and PhysicalSector are the sector sizes the guest sees.
	LogicalSector  int   `json:"logical_sector_size"`
	PhysicalSector int   `json:"physical_sector_size"`
	FileSize       int64 `json:"file_size"`
	// AllocatedBytes is the space holding data: the sum of Allocated()
	// lengths, except for raw files and fixed VHDs, where it is exactly
	// what the file system holds (without the short holes Allocated
	// includes).
	AllocatedBytes int64 `json:"allocated_bytes"`
	// Parent is the disk a differencing VHDX reads through (OpenChain),
	// as this machine reached it.
	Parent string `json:"parent,omitempty"`
}

// CreateOptions say what image to create.
type CreateOptions struct {
	Format Format
	// Size is the virtual size in bytes.
	Size int64
	// Fixed preallocates the whole disk (VHDX/VHD); dynamic otherwise.
	Fixed bool
	// BlockSize of a VHDX (1 MiB..256 MiB, power of two; 0 = 32 MiB as
	// Hyper-V does) or dynamic VHD (0 = 2 MiB).
	BlockSize int64
	// LogicalSector is 512 or 4096 (VHDX; 0 = 512). PhysicalSector likewise
	// (0 = 4096 for VHDX).
	LogicalSector  int
	PhysicalSector int
	// AzureCompatible refuses sizes Azure would refuse (a VHD's virtual
	// size must be a whole number of MiB).
	AzureCompatible bool
}

// OpenOptions say how to open an image.
type OpenOptions struct {
	// Format forces a format; empty detects it from the content.
	Format Format
	// ReadOnly opens without write access. A VHDX with a non-empty log is
	// then replayed in memory only; the file is left unchanged.
	ReadOnly bool
}

// Errors callers may test with errors.Is.
var (
	// ErrCorrupt marks an image whose structures are damaged or hostile.
	ErrCorrupt = errors.New("corrupt image")
	// ErrUnsupported marks a valid image this package does not handle
	// (differencing disks, for example).
	ErrUnsupported = errors.New("unsupported image")
	// ErrOutOfRange marks an access past the virtual size.
	ErrOutOfRange = errors.New("offset out of range")
)

// corruptf builds an ErrCorrupt error naming the file and what is wrong.
func corruptf(path, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", path, ErrCorrupt, fmt.Sprintf(format, args...))
}

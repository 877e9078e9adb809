package vdisk

// Deallocator is implemented by dynamic images (VHDX, VHD) whose blocks
// can become unallocated again and whose file can give their space back.
// The sync engine's rollback uses it so that blocks unallocated before a
// sync are unallocated after it, and the file is its old size again.
type Deallocator interface {
	// Deallocate makes [off, off+n) read as zeros: its whole blocks become
	// unallocated, as if never written (a VHDX block NOT_PRESENT, a VHD
	// BAT entry unused), and partial blocks are zeroed in place. A fixed
	// image zeroes the range and keeps its blocks.
	Deallocate(off, n int64) error
	// Trim makes every completed write durable, as Flush does, then cuts
	// the file after the last block still allocated, giving the space of
	// the blocks deallocated at its end back to the volume.
	Trim() error
}

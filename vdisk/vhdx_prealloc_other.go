//go:build !linux

package vdisk

import "os"

// preallocate keeps the file sparse where there is no portable way to
// reserve space; the payload still reads as zeros.
func preallocate(f *os.File, off, n int64) error { return nil }

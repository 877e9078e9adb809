//go:build !linux

package vdisk

import (
	"errors"
	"os"
)

// walkData reports the whole file as data: without SEEK_DATA there is no
// portable way to find holes.
func walkData(f *os.File, limit int64, fn func(off, end int64)) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if n := min(st.Size(), limit); n > 0 {
		fn(0, n)
	}
	return nil
}

var errNoPunch = errors.New("punching holes is not supported here")

func punchHole(f *os.File, off, n int64) error { return errNoPunch }

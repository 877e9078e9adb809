//go:build !linux

package vdisk

import (
	"errors"
	"os"
)

// fileExtents reports the whole file as data: without SEEK_DATA there is
// no portable way to find holes.
func fileExtents(f *os.File, limit int64) ([]Extent, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if n := min(st.Size(), limit); n > 0 {
		return []Extent{{0, n}}, nil
	}
	return nil, nil
}

var errNoPunch = errors.New("punching holes is not supported here")

func punchHole(f *os.File, off, n int64) error { return errNoPunch }

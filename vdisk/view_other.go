//go:build !unix

package vdisk

// views has nothing to hold without memory maps.
type views struct{}

func (*views) close() {}

// View is not available without memory maps here: callers read instead.
func (r *flatImage) View(off, n int64, f func(p []byte)) error { return ErrNoView }

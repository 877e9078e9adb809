package workflow

import (
	"context"

	"github.com/failback/failback/mover"
)

// What the pre-flight and the estimates need to know about a target
// image is asked where the job will write it: the host's mover opens it
// by the host's path, a share is opened here. So a host reached over SSH
// with data_path = "mover" needs no path_map at all.

// usesMover says the target's host writes its disks through its mover.
func (t *target) usesMover() bool { return t.hc != nil && t.hc.UsesMover() }

// reachable says this job can reach the image: through the host's mover,
// or through a path_map here.
func (d targetDisk) reachable(t *target) bool { return t.usesMover() || d.localOK }

// inspect says what the target image is (its allocation, and whether it
// can be locked for writing, when asked). It needs reachable.
func (m *Manager) inspect(ctx context.Context, t *target, d targetDisk, allocation, lock bool) (mover.Image, error) {
	if !t.usesMover() {
		return mover.Inspect(d.local, allocation, lock), nil
	}
	c := m.deps.Movers[t.hostName]
	if c == nil {
		return mover.Image{}, errNoMoverFor(t.hostName)
	}
	return c.Inspect(ctx, d.image, allocation, lock)
}

// errNoMoverFor is errNoMover for host.
func errNoMoverFor(host string) error {
	return &noMoverError{host: host}
}

type noMoverError struct{ host string }

func (e *noMoverError) Error() string {
	return "host " + e.host + ": " + errNoMover.Error() + " (data_path = \"mover\"): check its [[host]] entry, or set data_path = \"share\""
}

func (e *noMoverError) Unwrap() error { return errNoMover }

package workflow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
)

// Where a job's on-premises bytes are read and written is decided here
// and nowhere else: onPrem returns the disk's on-premises side, and every
// pass, verification, rollback and reverse cycle goes through it. Today
// that is the image file as this machine reaches it (through the host's
// path map, or a lab host's folder); a mover running on the Hyper-V host
// is the next implementation of the same methods.
type onPremDisk interface {
	// ID names the image in engine journals and sums, so a journal
	// written for another image is refused.
	ID() string
	// Exists says whether the image is there.
	Exists() (bool, error)
	// OpenWrite opens the image for writing (a pass, a verification, a
	// rollback), holding its write lock until release.
	OpenWrite(ctx context.Context) (t engine.Target, release func(), err error)
	// OpenRead opens the image read-only (reverse replication, and the
	// measure of what Undo would leave behind).
	OpenRead(ctx context.Context) (s engine.Source, release func(), err error)
}

// onPrem is disk d's on-premises side: in a test failback its test disk
// (testfailback_disk.go), never the VM's own.
func (j *job) onPrem(d diskRecord) onPremDisk {
	if d.Test != nil {
		return j.testDisk(d)
	}
	return localImage{host: d.Image, path: d.Local}
}

// localImage is an image file this machine opens itself.
type localImage struct {
	host string // as the Hyper-V host names it, for messages
	path string // as this machine reaches it
}

func (l localImage) ID() string {
	if a, err := filepath.Abs(l.path); err == nil {
		return a
	}
	return l.path
}

func (l localImage) Exists() (bool, error) {
	_, err := os.Stat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (l localImage) OpenWrite(context.Context) (engine.Target, func(), error) {
	lk, err := hyperv.LockDiskForWrite(l.path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", l.host, err)
	}
	img, err := vdisk.Open(l.path, vdisk.OpenOptions{})
	if err != nil {
		_ = lk.Release()
		return nil, nil, fmt.Errorf("open %s: %w", l.path, err)
	}
	return engine.ImageTarget(img), func() {
		img.Close()
		_ = lk.Release()
	}, nil
}

func (l localImage) OpenRead(context.Context) (engine.Source, func(), error) {
	img, err := vdisk.Open(l.path, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", l.path, err)
	}
	return engine.ImageSource(img), func() { img.Close() }, nil
}

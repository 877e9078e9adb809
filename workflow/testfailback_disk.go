package workflow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
)

// A test disk is a test failback's on-premises side (onprem.go's seam):
// every pass, verification and rollback of a test writes it, never the
// VM's own disk, which it only reads. Making and removing it go through
// the same seam, so a mover on the host (the next implementation) does
// those too.

// onPremTestDisk is a test disk: an on-premises disk the test makes
// before phase 1 and removes when it ends.
type onPremTestDisk interface {
	onPremDisk
	// Create makes the test disk: a differencing child of the VM's disk,
	// or a copy of it (progress gets bytes examined of the total).
	Create(ctx context.Context, progress func(done, total int64)) error
	// Remove deletes the test disk (and its test folder, if that is
	// empty now); a missing one is no error.
	Remove(ctx context.Context) error
}

// testImage is a test disk this machine writes itself, through the test
// host's path map, beside (or copied from) the VM's disk.
type testImage struct {
	parentHost, parentLocal string // the VM's own disk, read-only
	t                       testDiskRecord
}

// testDisk is disk d's test disk (d.Test must be set).
func (j *job) testDisk(d diskRecord) onPremTestDisk {
	return testImage{parentHost: d.Image, parentLocal: d.Local, t: *d.Test}
}

func (ti testImage) ID() string { return localImage{host: ti.t.Image, path: ti.t.Local}.ID() }

func (ti testImage) Exists() (bool, error) {
	return localImage{host: ti.t.Image, path: ti.t.Local}.Exists()
}

// open opens the test disk: a child with its parent given as this machine
// reaches it (the locator names it as the host does), checked to be the
// disk the child was made from.
func (ti testImage) open(readOnly bool) (vdisk.Image, error) {
	if ti.t.Mode == testDiff {
		img, err := vdisk.OpenChain(ti.t.Local, vdisk.ChainOptions{ReadOnly: readOnly, Parent: ti.parentLocal})
		if errors.Is(err, vdisk.ErrParentChanged) {
			return nil, fmt.Errorf("test disk %s: %w: %s was written since the test began (was the VM started?); end the test and run it again", ti.t.Image, err, ti.parentHost)
		}
		return img, err
	}
	return vdisk.Open(ti.t.Local, vdisk.OpenOptions{ReadOnly: readOnly})
}

func (ti testImage) OpenWrite(context.Context) (engine.Target, func(), error) {
	lk, err := hyperv.LockDiskForWrite(ti.t.Local)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ti.t.Image, err)
	}
	img, err := ti.open(false)
	if err != nil {
		_ = lk.Release()
		return nil, nil, fmt.Errorf("open test disk %s: %w", ti.t.Local, err)
	}
	return engine.ImageTarget(img), func() {
		img.Close()
		_ = lk.Release()
	}, nil
}

func (ti testImage) OpenRead(context.Context) (engine.Source, func(), error) {
	img, err := ti.open(true)
	if err != nil {
		return nil, nil, fmt.Errorf("open test disk %s: %w", ti.t.Local, err)
	}
	return engine.ImageSource(img), func() { img.Close() }, nil
}

func (ti testImage) Create(ctx context.Context, progress func(done, total int64)) error {
	if err := os.MkdirAll(ti.t.LocalFolder, 0o755); err != nil {
		return fmt.Errorf("create the test folder %s: %w", ti.t.Folder, err)
	}
	if ti.t.Mode == testDiff {
		img, err := vdisk.CreateDifferencing(ti.t.Local, vdisk.DiffOptions{Parent: ti.parentLocal,
			ParentHostPath: ti.parentHost, ChildHostPath: ti.t.Image})
		if err != nil {
			return err
		}
		return img.Close()
	}
	src, err := vdisk.Open(ti.parentLocal, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open %s to copy it: %w", ti.parentHost, err)
	}
	defer src.Close()
	in := src.Info()
	dst, err := vdisk.Create(ti.t.Local, vdisk.CreateOptions{Format: in.Format, Size: in.VirtualSize, LogicalSector: in.LogicalSector})
	if err != nil {
		return err
	}
	if err := vdisk.Copy(ctx, dst, src, progress); err != nil {
		dst.Close()
		os.Remove(ti.t.Local)
		return fmt.Errorf("copy %s to %s: %w", ti.parentHost, ti.t.Image, err)
	}
	return dst.Close()
}

func (ti testImage) Remove(context.Context) error {
	if err := os.Remove(ti.t.Local); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove test disk %s: %w", ti.t.Image, err)
	}
	_ = os.Remove(ti.t.LocalFolder) // only when empty; End test removes it anyway
	return nil
}

// removeTestFolder removes a test folder and whatever the host left in it
// (a test VM's configuration folders), refusing any folder that is not
// one a test made.
func removeTestFolder(local, host string) error {
	if !strings.HasPrefix(filepath.Base(local), "failback-test-") {
		return fmt.Errorf("%s is not a test folder; not removed", host)
	}
	if err := os.RemoveAll(local); err != nil {
		return fmt.Errorf("remove the test folder %s: %w", host, err)
	}
	return nil
}

package workflow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/failback/failback/mover"
	"github.com/failback/failback/vdisk"
)

// A test disk is a test failback's on-premises side (onprem.go's seam):
// every pass, verification and rollback of a test writes it, never the
// VM's own disk, which it only reads. This machine writes it through the
// host's path map (as data_path = "share"), whatever the host's
// data_path: its passes run the same mover.Local operations as a share,
// opening the differencing child with its parent. A test on a host
// whose mover writes real failbacks still needs the path map (the
// pre-flight says so); making test disks through the mover is not done
// yet.

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
	shareDisk
	parentHost, parentLocal string // the VM's own disk, read-only
	t                       testDiskRecord
}

// testDisk is disk k's test disk (its Test must be set), with the
// journals in the state folder.
func (j *job) testDisk(k diskKey) onPremTestDisk {
	r := j.snap()
	vm := r.VMs[k.v]
	d := vm.Disks[k.d]
	ti := testImage{parentHost: d.Image, parentLocal: d.Local, t: *d.Test}
	ti.shareDisk = shareDisk{j: j, key: mover.DiskKey{Job: j.id, VM: vm.Name, Disk: k.d},
		local: mover.NewLocal(j.m.paths.root).Opening(ti.open), image: d.Test.Image, path: d.Test.Local}
	return ti
}

// open opens the test disk: a child with its parent given as this machine
// reaches it (the locator names it as the host does), checked to be the
// disk the child was made from.
func (ti testImage) open(_ string, readOnly bool) (vdisk.Image, error) {
	if ti.t.Mode == testDiff {
		img, err := vdisk.OpenChain(ti.t.Local, vdisk.ChainOptions{ReadOnly: readOnly, Parent: ti.parentLocal})
		if errors.Is(err, vdisk.ErrParentChanged) {
			return nil, fmt.Errorf("test disk %s: %w: %s was written since the test began (was the VM started?); end the test and run it again", ti.t.Image, err, ti.parentHost)
		}
		return img, err
	}
	return vdisk.Open(ti.t.Local, vdisk.OpenOptions{ReadOnly: readOnly})
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

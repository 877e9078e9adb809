package workflow

import (
	"context"
	"errors"

	"github.com/failback/failback/mover"
)

// A test disk is a test failback's on-premises side (onprem.go's seam):
// every pass, verification and rollback of a test writes it, never the
// VM's own disk, which it only reads. Making and removing it go through
// the same seam. The host's mover does it all on the host when the VM's
// host writes through its mover and the test VMs run there; a copy on
// another host (and a share host) is written by this machine through the
// path maps, as data_path = "share", with the journals in the state
// folder. Both run the same mover functions (mover/testdisk.go).

// onPremTestDisk is a test disk: an on-premises disk the test makes
// before phase 1 and removes when it ends.
type onPremTestDisk interface {
	onPremDisk
	// Create makes the test disk: a differencing child of the VM's disk,
	// or a copy of it.
	Create(ctx context.Context) error
	// Remove deletes the test disk (and its test folder, if that is
	// empty now); a missing one is no error.
	Remove(ctx context.Context) error
}

// testDisk is disk k's test disk (its Test must be set).
func (j *job) testDisk(k diskKey) onPremTestDisk {
	r := j.snap()
	vm := r.VMs[k.v]
	d := vm.Disks[k.d]
	t := *d.Test
	key := mover.DiskKey{Job: j.id, VM: vm.Name, Disk: k.d}
	if t.Mover {
		md := moverDisk{j: j, key: key, host: vm.Host, image: t.Image}
		if t.Mode == testDiff {
			md.parent = d.Image
		}
		return moverTestDisk{moverDisk: md, td: mover.TestDisk{Path: t.Image, Folder: t.Folder, Parent: d.Image,
			HostPath: t.Image, HostParent: d.Image, Copy: t.Mode == testCopy}}
	}
	local := mover.NewLocal(j.m.paths.root)
	if t.Mode == testDiff {
		local = local.Opening(mover.TestDiskOpener(d.Local))
	}
	return testImage{shareDisk: shareDisk{j: j, key: key, local: local, image: t.Image, path: t.Local},
		td: mover.TestDisk{Path: t.Local, Folder: t.LocalFolder, Parent: d.Local, HostPath: t.Image, HostParent: d.Image,
			Copy: t.Mode == testCopy}}
}

// moverTestDisk is a test disk the host's mover makes, writes and removes.
type moverTestDisk struct {
	moverDisk
	td mover.TestDisk // as the host names it
}

func (m moverTestDisk) Create(ctx context.Context) error {
	c, err := m.client()
	if err != nil {
		return err
	}
	return c.MakeTest(ctx, m.td)
}

func (m moverTestDisk) Remove(ctx context.Context) error {
	c, err := m.client()
	if err != nil {
		return err
	}
	return c.RemoveTest(ctx, m.td)
}

// testImage is a test disk this machine writes itself, through the test
// host's path map, beside (or copied from) the VM's disk.
type testImage struct {
	shareDisk
	td mover.TestDisk // as this machine reaches it
}

func (ti testImage) Create(ctx context.Context) error { return mover.MakeTestDisk(ctx, ti.td) }

func (ti testImage) Remove(context.Context) error { return mover.RemoveTestDisk(ti.td) }

// removeTestFolders removes each test folder with what the hosts left in
// it (a test VM's configuration folders): through the host's mover for
// its test disks, here for the others.
func (j *job) removeTestFolders(ctx context.Context) error {
	seen := map[string]bool{}
	var errs []error
	for _, vm := range j.snap().VMs {
		for _, d := range vm.Disks {
			t := d.Test
			if t == nil || seen[vm.Host+"\x00"+t.Folder] {
				continue
			}
			seen[vm.Host+"\x00"+t.Folder] = true
			switch {
			case t.Mover:
				c, err := moverDisk{j: j, host: vm.Host}.client()
				if err == nil {
					err = c.RemoveTestFolder(ctx, t.Folder)
				}
				errs = append(errs, err)
			case exists(t.LocalFolder):
				errs = append(errs, mover.RemoveTestFolder(t.LocalFolder, t.Folder))
			}
		}
	}
	return errors.Join(errs...)
}

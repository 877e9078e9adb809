package mover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/failback/failback/vdisk"
)

// A test failback writes test disks, never the VM's own: a differencing
// child of the VM's disk (which is only read), or a copy of it, in a test
// folder. The mover makes, writes and removes them on the host; a driver
// writing through a share runs the same functions on the paths it
// mounts.

// ImageRef is an image the mover writes: its path and, for a test disk
// made as a differencing child, the parent it is opened over.
type ImageRef struct {
	Path   string
	Parent string
}

// TestDisk is a test disk, by the paths of the machine that opens it,
// and by the host's (for the child's parent locator).
type TestDisk struct {
	// Path is the test disk, Folder its test folder, Parent the VM's
	// own disk.
	Path   string `json:"path"`
	Folder string `json:"folder"`
	Parent string `json:"parent"`
	// HostPath and HostParent are Path and Parent as the Hyper-V host
	// names them.
	HostPath   string `json:"host_path"`
	HostParent string `json:"host_parent"`
	// Copy makes a copy of the parent instead of a differencing child.
	Copy bool `json:"copy,omitempty"`
}

// TestDiskOpener opens a test disk made as a differencing child over
// parent, checked to be the disk the child was made from.
func TestDiskOpener(parent string) Opener {
	return func(path string, readOnly bool) (vdisk.Image, error) {
		img, err := vdisk.OpenChain(path, vdisk.ChainOptions{ReadOnly: readOnly, Parent: parent})
		if errors.Is(err, vdisk.ErrParentChanged) {
			return nil, fmt.Errorf("test disk %s: %w: %s was written since the test began (was the VM started?); end the test and run it again", path, err, parent)
		}
		return img, err
	}
}

// MakeTestDisk makes the test disk (and its folder).
func MakeTestDisk(ctx context.Context, td TestDisk) error {
	if err := td.check(); err != nil {
		return err
	}
	if _, err := os.Lstat(td.Path); err == nil {
		return fmt.Errorf("test disk %s: %w: a file this test did not make is there; remove it or end the test that made it", td.HostPath, fs.ErrExist)
	}
	if err := os.MkdirAll(td.Folder, 0o755); err != nil {
		return fmt.Errorf("create the test folder %s: %w", td.Folder, err)
	}
	if !td.Copy {
		img, err := vdisk.CreateDifferencing(td.Path, vdisk.DiffOptions{Parent: td.Parent,
			ParentHostPath: td.HostParent, ChildHostPath: td.HostPath})
		if err != nil {
			return err
		}
		return img.Close()
	}
	src, err := vdisk.Open(td.Parent, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open %s to copy it: %w", td.HostParent, err)
	}
	defer src.Close()
	in := src.Info()
	dst, err := vdisk.Create(td.Path, vdisk.CreateOptions{Format: in.Format, Size: in.VirtualSize, LogicalSector: in.LogicalSector})
	if err != nil {
		return err
	}
	if err := vdisk.Copy(ctx, dst, src, nil); err != nil {
		dst.Close()
		os.Remove(td.Path)
		return fmt.Errorf("copy %s to %s: %w", td.HostParent, td.HostPath, err)
	}
	return dst.Close()
}

// RemoveTestDisk deletes the test disk, and its test folder if that is
// empty now; a missing one is no error.
func RemoveTestDisk(td TestDisk) error {
	if err := td.check(); err != nil {
		return err
	}
	if err := os.Remove(td.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove test disk %s: %w", td.HostPath, err)
	}
	_ = os.Remove(td.Folder) // only when empty; End test removes it anyway
	return nil
}

// RemoveTestFolder removes a test folder and whatever the host left in
// it (a test VM's configuration folders), refusing any folder that is
// not one a test made; host names it in messages. A missing one is no
// error.
func RemoveTestFolder(folder, host string) error {
	if !strings.HasPrefix(filepath.Base(folder), "failback-test-") {
		return fmt.Errorf("%s is not a test folder; not removed", host)
	}
	if err := os.RemoveAll(folder); err != nil {
		return fmt.Errorf("remove the test folder %s: %w", host, err)
	}
	return nil
}

// MakeTest makes a test disk on the host (paths as the host names them).
func (c *Client) MakeTest(ctx context.Context, td TestDisk) error {
	return c.call(ctx, opMakeTest, td, nil, handlers{})
}

// RemoveTest deletes a test disk on the host.
func (c *Client) RemoveTest(ctx context.Context, td TestDisk) error {
	return c.call(ctx, opRemoveTest, td, nil, handlers{})
}

// RemoveTestFolder removes a test folder on the host with what the host
// left in it.
func (c *Client) RemoveTestFolder(ctx context.Context, folder string) error {
	return c.call(ctx, opTestFolder, TestDisk{Folder: folder}, nil, handlers{})
}

// check refuses a test disk that is not a file directly in a test folder,
// or that names the VM's own disk: the mover writes and deletes only what
// a test makes, whatever a record or a request says.
func (td TestDisk) check() error {
	path, folder := filepath.Clean(td.Path), filepath.Clean(td.Folder)
	same := path == filepath.Clean(td.Parent)
	if runtime.GOOS == "windows" {
		same = strings.EqualFold(path, filepath.Clean(td.Parent))
	}
	if filepath.Dir(path) != folder || !strings.HasPrefix(filepath.Base(folder), "failback-test-") || same {
		return fmt.Errorf("%s is not a test disk in a test folder; refused", td.HostPath)
	}
	return nil
}

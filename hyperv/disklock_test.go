package hyperv_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/failback/failback/hyperv"
)

// folderNames lists a folder's entries.
func folderNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestDiskWriteLockLeavesNothingBesideTheDisk: the write lock of a disk
// lives in the lock folder (the state folder's disklocks/ once
// workflow.Open sets it, the temporary folder before), never beside the
// disk: a production disk's folder gets no file from failback. The lock
// still excludes a second writer and shows in DiskInUse.
func TestDiskWriteLockLeavesNothingBesideTheDisk(t *testing.T) {
	h := newLab(t)
	disks := t.TempDir()
	disk := filepath.Join(disks, "prod.vhdx")
	if err := os.WriteFile(disk, []byte("image"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(t.TempDir(), "state", "disklocks"), ""} {
		hyperv.SetDiskLockDir(dir)
		t.Cleanup(func() { hyperv.SetDiskLockDir("") })
		l, err := hyperv.LockDiskForWrite(disk)
		if err != nil {
			t.Fatal(err)
		}
		if names := folderNames(t, disks); len(names) != 1 || names[0] != "prod.vhdx" {
			t.Fatalf("lock folder %q: the disk's folder holds %v", dir, names)
		}
		if dir != "" && len(folderNames(t, dir)) != 1 {
			t.Fatalf("no lock file in %s", dir)
		}
		if _, err := hyperv.LockDiskForWrite(disk); !errors.Is(err, hyperv.ErrDiskInUse) {
			t.Fatalf("a second writer: %v", err)
		}
		if u, err := h.DiskInUse(bg, disk); err != nil || !u.Locked {
			t.Fatalf("DiskInUse while locked: %+v %v", u, err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		if u, err := h.DiskInUse(bg, disk); err != nil || u.Locked {
			t.Fatalf("DiskInUse after release: %+v %v", u, err)
		}
	}
}

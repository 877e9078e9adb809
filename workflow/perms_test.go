//go:build unix

package workflow_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/vdisk"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// Attack: another local user reads the state folder (job records, audit
// logs, block checksums) or a disk image failback wrote (a decrypted
// image is the disk's plaintext). Everything failback creates is for its
// own user: folders 0700, files 0600, and a state folder left 0755 by an
// older version is tightened when failback takes it.
func TestNothingFailbackCreatesIsReadableByOthers(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{2 << 20}}}})
	if err := os.MkdirAll(l.Cfg.StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(l.Cfg.StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := l.Open(l.Deps())
	id, err := m.Start(context.Background(), workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	seen := map[string]bool{}
	// The state folder, and the host's: its mover keeps the journals and
	// sums there.
	walk := func(root string, f fs.WalkDirFunc) error {
		if err := filepath.WalkDir(root, f); err != nil {
			return err
		}
		return filepath.WalkDir(l.Cfg.Host("hv01").MoverStateDir(), f)
	}
	err = walk(l.Cfg.StateDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is mode %04o: others may use it", p, st.Mode().Perm())
		}
		seen[filepath.Base(p)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lock", "audit.log", "sums", "job.json", "control.json", "control.sock"} {
		if !seen[name] && !(name == "control.sock" && len(filepath.Join(l.Cfg.StateDir, name)) >= 100) {
			t.Errorf("no %s in the state folder: the walk checked less than it should", name)
		}
	}

	dir := t.TempDir()
	for _, ext := range []string{".vhdx", ".vhd", ".img"} {
		p := filepath.Join(dir, "new"+ext)
		img, err := vdisk.Create(p, vdisk.CreateOptions{Size: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		img.Close()
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("created image %s: mode %v %v, want 0600", strings.TrimPrefix(p, dir), st.Mode().Perm(), err)
		}
	}
}

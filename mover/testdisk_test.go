package mover

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The mover removes a folder with what is in it only when a test made it
// (failback-test-*): a driver's call can never make it remove a VM
// folder.
func TestTheMoverRemovesOnlyTestFolders(t *testing.T) {
	dir := t.TempDir()
	c := NewClient(Pipe(ServerOptions{StateDir: filepath.Join(dir, "state")}), ClientOptions{Host: "hv01"})
	defer c.Close()
	ctx := context.Background()
	vms := filepath.Join(dir, "VMs")
	test := filepath.Join(vms, "failback-test-app")
	if err := os.MkdirAll(filepath.Join(test, "db01-test"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveTestFolder(ctx, vms); err == nil || !strings.Contains(err.Error(), "is not a test folder") {
		t.Fatalf("removing a VM folder: %v", err)
	}
	if _, err := os.Stat(test); err != nil {
		t.Fatalf("a refused removal removed something: %v", err)
	}
	if err := c.RemoveTestFolder(ctx, test); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(test); !os.IsNotExist(err) {
		t.Fatalf("the test folder is still there: %v", err)
	}
	if _, err := os.Stat(vms); err != nil {
		t.Fatalf("the folder around it went too: %v", err)
	}
}

// The mover makes and deletes only a test disk directly in a test
// folder, never the VM's own disk nor a file that was there before the
// test, whatever a record or a request names; a file in the way says so
// as fs.ErrExist on the driver's side too.
func TestTheMoverTouchesOnlyTestDisks(t *testing.T) {
	dir := t.TempDir()
	c := NewClient(Pipe(ServerOptions{StateDir: filepath.Join(dir, "state")}), ClientOptions{Host: "hv01"})
	defer c.Close()
	ctx := context.Background()
	own := filepath.Join(dir, "db01.vhdx")
	if err := os.WriteFile(own, []byte("the VM's disk"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, td := range []TestDisk{
		{Path: own, Folder: dir, Parent: own},
		{Path: own, Folder: filepath.Join(dir, "failback-test-app"), Parent: own},
		{Path: filepath.Join(dir, "failback-test-app", "db01.vhdx"), Folder: filepath.Join(dir, "failback-test-app"),
			Parent: filepath.Join(dir, "failback-test-app", "db01.vhdx")},
	} {
		if err := c.RemoveTest(ctx, td); err == nil || !strings.Contains(err.Error(), "not a test disk") {
			t.Fatalf("removing %+v: %v", td, err)
		}
	}
	if b, err := os.ReadFile(own); err != nil || string(b) != "the VM's disk" {
		t.Fatalf("the VM's disk after refused removals: %q %v", b, err)
	}
	folder := filepath.Join(dir, "failback-test-app")
	taken := filepath.Join(folder, "db01-test.vhdx")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(taken, []byte("someone's"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := c.MakeTest(ctx, TestDisk{Path: taken, Folder: folder, Parent: own, HostPath: taken, HostParent: own, Copy: true})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("making a test disk over a file: %v", err)
	}
	if b, _ := os.ReadFile(taken); string(b) != "someone's" {
		t.Fatalf("the file in the way was changed: %q", b)
	}
}

package mover

import (
	"context"
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

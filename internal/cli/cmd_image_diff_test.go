package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/vdisk"
)

// TestImageReadsDifferencingChains: image info and compare read a
// differencing VHDX as its chain (child over parent), and say so; a
// sync into one is refused (targets are whole disks).
func TestImageReadsDifferencingChains(t *testing.T) {
	dir := t.TempDir()
	parent := filepath.Join(dir, "db01.vhdx")
	mustImageCLI(t, "image", "create", "8M", parent)
	child := filepath.Join(dir, "db01-test.vhdx")
	img, err := vdisk.CreateDifferencing(child, vdisk.DiffOptions{Parent: parent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.WriteAt([]byte("changed in the test"), 3<<20+5); err != nil {
		t.Fatal(err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	out := mustImageCLI(t, "image", "info", child)
	if !strings.Contains(out, "vhdx (differencing)") || !strings.Contains(out, "parent:        "+parent) {
		t.Fatalf("image info of a child:\n%s", out)
	}
	if in := imageInfo(t, child); in.Parent != parent {
		t.Fatalf("info --json parent %q", in.Parent)
	}
	ctx := context.Background()
	if code, out, _ := runImageCLI(t, ctx, "image", "compare", child, parent); code != 1 || strings.TrimSpace(out) != "differ at offset 3145733" {
		t.Fatalf("child against parent: exit %d, %q", code, out)
	}
	flat := filepath.Join(dir, "flat.raw")
	mustImageCLI(t, "image", "convert", child, flat)
	if code, out, _ := runImageCLI(t, ctx, "image", "compare", child, flat); code != 0 || strings.TrimSpace(out) != "identical" {
		t.Fatalf("child against its conversion: exit %d, %q", code, out)
	}
	if code, _, errs := runImageCLI(t, ctx, "sync", flat, child); code == 0 || !strings.Contains(errs, "differencing") {
		t.Fatalf("sync into a child: exit %d, %q", code, errs)
	}
}

package labarm

import (
	"errors"
	"strings"
	"testing"

	"github.com/failback/failback/azure"
)

// TestBuilderRefuses: the builder says what is wrong with a disk or VM
// it cannot make.
func TestBuilderRefuses(t *testing.T) {
	e := newEnv(t, nil)
	c := ctx(t)
	for _, d := range []string{"b-os", "b-data"} {
		if _, err := e.srv.CreateDisk(c, e.rg, d, 1<<20, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.srv.CreateVM(c, VMSpec{RG: e.rg, Name: "b1", OSDisk: DiskSpec{Disk: "b-os"}}); err != nil {
		t.Fatal(err)
	}
	for _, c2 := range []struct {
		name string
		err  func() error
		want string
	}{
		{"disk size", func() error { _, err := e.srv.CreateDisk(c, e.rg, "odd", 1000, ""); return err }, "whole number of MiB"},
		{"disk sku", func() error { _, err := e.srv.CreateDisk(c, e.rg, "odd", 1<<20, "Gold"); return err }, "not one of"},
		{"disk twice", func() error { _, err := e.srv.CreateDisk(c, e.rg, "b-os", 1<<20, ""); return err }, "exists already"},
		{"disk name", func() error { _, err := e.srv.CreateDisk(c, e.rg, "a/b", 1<<20, ""); return err }, "is invalid"},
		{"attached", func() error {
			_, err := e.srv.CreateVM(c, VMSpec{RG: e.rg, Name: "b2", OSDisk: DiskSpec{Disk: "b-os"}})
			return err
		}, "attached to"},
		{"missing", func() error {
			_, err := e.srv.CreateVM(c, VMSpec{RG: e.rg, Name: "b2", OSDisk: DiskSpec{Disk: "nope"}})
			return err
		}, "make it with CreateDisk"},
		{"LUN twice", func() error {
			_, err := e.srv.CreateVM(c, VMSpec{RG: e.rg, Name: "b2", OSDisk: DiskSpec{Disk: "b-data"},
				DataDisks: []DiskSpec{{LUN: 1, Container: "x", Blob: "a.vhd"}, {LUN: 1, Container: "x", Blob: "b.vhd"}}})
			return err
		}, "LUN 1 is given twice"},
		{"deleteOption", func() error {
			_, err := e.srv.CreateVM(c, VMSpec{RG: e.rg, Name: "b2", OSDisk: DiskSpec{Disk: "b-data", DeleteOption: "Remove"}})
			return err
		}, "want Delete or Detach"},
		{"name in another group", func() error {
			_, err := e.srv.CreateVM(c, VMSpec{RG: e.rg + "-other", Name: "b1", OSDisk: DiskSpec{Container: "x", Blob: "y.vhd"}})
			return err
		}, "unique across resource groups"},
	} {
		if err := c2.err(); err == nil || !strings.Contains(err.Error(), c2.want) {
			t.Errorf("%s: %v, want an error saying %q", c2.name, err, c2.want)
		}
	}
	if _, _, err := e.srv.DiskBlob(e.rg, "nope"); !errors.Is(err, azure.ErrNotFound) {
		t.Errorf("DiskBlob of a missing disk: %v", err)
	}
	if err := e.srv.SetDataAccessAuthMode(e.rg, "b-os", "Entra"); err == nil {
		t.Error("SetDataAccessAuthMode accepted a mode Azure does not have")
	}
}

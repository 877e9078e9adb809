package vdisk

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetectFormats(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, o CreateOptions) string {
		p := filepath.Join(dir, name)
		img, err := Create(p, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := img.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vhdx := filepath.Join(dir, "sig.vhdx")
	if err := os.WriteFile(vhdx, append([]byte("vhdxfile"), make([]byte, 1<<16)...), 0o644); err != nil {
		t.Fatal(err)
	}
	// A raw disk whose last sector happens to start with the cookie but
	// has no valid checksum is still raw.
	fake := filepath.Join(dir, "fake.img")
	if err := os.WriteFile(fake, append(make([]byte, 4096), append([]byte(vhdCookie), make([]byte, 504)...)...), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]Format{
		mk("a.raw", CreateOptions{Size: 1 << 20}):              Raw,
		mk("b.vhd", CreateOptions{Size: 1 << 20, Fixed: true}): VHD,
		mk("c.vhd", CreateOptions{Size: 1 << 20}):              VHD,
		mk("d.img", CreateOptions{Size: 512, Format: Raw}):     Raw,
		vhdx: VHDX,
		fake: Raw,
	}
	for p, want := range cases {
		if got, err := Detect(p); err != nil || got != want {
			t.Errorf("Detect(%s) = %q, %v; want %q", filepath.Base(p), got, err, want)
		}
	}
}

func TestFormatFromPath(t *testing.T) {
	for p, want := range map[string]Format{"a.VHDX": VHDX, "b.vhd": VHD, "c.raw": Raw, "d.img": Raw, "e.bin": Raw} {
		if got, err := FormatFromPath(p); err != nil || got != want {
			t.Errorf("%s: %q, %v", p, got, err)
		}
	}
	if _, err := FormatFromPath("disk.qcow2"); err == nil || !strings.Contains(err.Error(), ".vhdx") {
		t.Errorf("unknown extension: %v", err)
	}
}

func TestOpenMissingAndDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "nope.vhd"), OpenOptions{})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "no such image file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir, OpenOptions{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	// The same with the format forced, for every format.
	for _, f := range []Format{VHDX, VHD, Raw} {
		for _, ro := range []bool{true, false} {
			_, err := Open(filepath.Join(dir, "nope"), OpenOptions{Format: f, ReadOnly: ro})
			if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "no such image file") {
				t.Errorf("%s, read-only %v, missing file: %v", f, ro, err)
			}
			if _, err := Open(dir, OpenOptions{Format: f, ReadOnly: ro}); err == nil || !strings.Contains(err.Error(), "is a directory, not a disk image") {
				t.Errorf("%s, read-only %v, directory: %v", f, ro, err)
			}
		}
	}
}

func TestCreateRefusesExistingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keep.vhd")
	if err := os.WriteFile(p, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Create(p, CreateOptions{Size: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v", err)
	}
	if string(mustRead(t, p)) != "precious" {
		t.Fatal("existing file changed")
	}
}

func TestCreateRefusesBadSizesAndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		o    CreateOptions
		want string
	}{
		{CreateOptions{Format: Raw, Size: 0}, "positive"},
		{CreateOptions{Format: VHD, Size: -512}, "positive"},
		{CreateOptions{Format: VHD, Size: 1000}, "use 512 or 1024"},
		{CreateOptions{Format: VHDX, Size: 512 * 3, LogicalSector: 4096}, "4096-byte sector; use 4096"},
		{CreateOptions{Format: VHDX, Size: 1 << 20, LogicalSector: 1024}, "512 or 4096"},
		{CreateOptions{Format: Raw, Size: 65 << 40}, "64 TiB"},
		{CreateOptions{Format: VHD, Size: 3 << 40}, "2040 GiB"},
		{CreateOptions{Format: VHD, Size: 9 << 40, Fixed: true}, "8 TiB"},
		{CreateOptions{Format: VHD, Size: 1 << 20, BlockSize: 3 << 20}, "power of two"},
		{CreateOptions{Format: VHD, Size: 1 << 20, AzureCompatible: true}, "fixed"},
		{CreateOptions{Format: VHD, Size: 1 << 20, LogicalSector: 4096}, "512-byte sectors"},
		{CreateOptions{Format: Raw, Size: 1 << 20, Fixed: true}, "raw image"},
		{CreateOptions{Format: "qcow2", Size: 1 << 20}, "unknown image format"},
	}
	for i, c := range cases {
		p := filepath.Join(dir, "bad"+itoa(int64(i)))
		if img, err := Create(p, c.o); err == nil {
			img.Close()
			t.Errorf("%+v: created", c.o)
		} else if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "use 0 ") {
			t.Errorf("%+v: %v; want it to mention %q (and no empty disk)", c.o, err, c.want)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%+v: left a file behind", c.o)
		}
	}
}

// TestCreateRawOfAnySize: a raw image holds any number of bytes, so a
// source that is not whole sectors (an exported disk, a file) has a target.
func TestCreateRawOfAnySize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "odd.raw")
	img, err := Create(p, CreateOptions{Format: Raw, Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if img.Size() != 1000 {
		t.Fatalf("size %d", img.Size())
	}
	if _, err := img.WriteAt([]byte{1, 2, 3}, 997); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Size() != 1000 {
		t.Fatalf("file: %v %v", st, err)
	}
}

func TestCreateAzureIncompatibleSizeSaysNearest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "azure.vhd")
	_, err := Create(p, CreateOptions{Format: VHD, Fixed: true, AzureCompatible: true, Size: 10<<20 + 512})
	if err == nil {
		t.Fatal("created an Azure-incompatible size")
	}
	for _, w := range []string{"whole number of MiB", itoa(10 << 20), itoa(11 << 20)} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not mention %q", err, w)
		}
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("left a file behind")
	}
	// Without AzureCompatible the same size is a valid VHD.
	img, err := Create(p, CreateOptions{Format: VHD, Fixed: true, Size: 10<<20 + 512})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
}

func TestImageBoundsAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []CreateOptions{{Format: Raw, Size: 1 << 20}, {Format: VHD, Size: 1 << 20}, {Format: VHD, Fixed: true, Size: 1 << 20}} {
		p := filepath.Join(dir, string(o.Format)+itoa(int64(len(dir)))+map[bool]string{true: "f"}[o.Fixed])
		img, err := Create(p, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := img.WriteAt(make([]byte, 1024), 1<<20-512); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%v: write past the end: %v", o, err)
		}
		if _, err := img.WriteAt([]byte{1}, -1); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%v: negative offset: %v", o, err)
		}
		buf := make([]byte, 1024)
		if n, err := img.ReadAt(buf, 1<<20-512); n != 512 || err != io.EOF {
			t.Errorf("%v: read over the end = %d, %v; want 512, EOF", o, n, err)
		}
		img.Close()
		img, err = Open(p, OpenOptions{ReadOnly: true, Format: o.Format})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := img.WriteAt([]byte{1}, 0); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("%v: write to a read-only image: %v", o, err)
		}
		if img.Size() != 1<<20 {
			t.Errorf("%v: size %d", o, img.Size())
		}
		img.Close()
	}
}

package vdisk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// wantDamaged fails unless opening p (read-only and for writing) is a
// DamagedError of format f whose message has every one of want.
func wantDamaged(t *testing.T, p string, f Format, want ...string) {
	t.Helper()
	for _, ro := range []bool{true, false} {
		img, err := Open(p, OpenOptions{ReadOnly: ro})
		if err == nil {
			img.Close()
			t.Fatalf("%s (read-only %v) opened as %s; want it refused as damaged", filepath.Base(p), ro, img.Info().Format)
		}
		var de *DamagedError
		if !errors.As(err, &de) || de.Format != f || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: %v; want a DamagedError of %s", filepath.Base(p), err, f)
		}
		for _, w := range append([]string{"damaged " + strings.ToUpper(string(f)) + ": "}, want...) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", filepath.Base(p), err, w)
			}
		}
	}
}

// TestHeaderZeroedVHDXOfTheVirtualSizeIsDamagedNotRaw is the failure of
// issue 15 item 2: a VHDX (made by qemu-img) whose first MiB was zeroed
// and whose file is exactly the virtual size passed for a raw disk of the
// right size, and a failback wrote raw bytes into it.
func TestHeaderZeroedVHDXOfTheVirtualSizeIsDamagedNotRaw(t *testing.T) {
	testenv.QemuImg(t)
	const size = 8 << 20
	p := filepath.Join(t.TempDir(), "web01.vhdx")
	testenv.Qemu(t, "create", "-f", "vhdx", "-o", "subformat=fixed", p, itoa(size))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantDamaged(t, p, VHDX, `no "vhdxfile" signature`, "Test-VHD/Repair-VHD", "restore the disk from a backup")
	// Only an explicit raw format reads it as bytes.
	img, err := Open(p, OpenOptions{Format: Raw, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if in := img.Info(); in.Format != Raw || in.VirtualSize != size {
		t.Fatalf("forced raw: %+v", in)
	}
}

func TestEmptyVHDXAndVHDAreDamaged(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		f    Format
		want string
	}{{"empty.vhdx", VHDX, "file is 0 bytes"}, {"EMPTY.VHD", VHD, "VHD file is 0 bytes"}} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		wantDamaged(t, p, c.f, c.want)
	}
}

// TestVHDWithZeroedFooterIsDamaged: a fixed VHD (as Azure keeps them)
// whose footer was zeroed is refused, not read as a raw disk 512 bytes
// too long.
func TestVHDWithZeroedFooterIsDamaged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "db.vhd")
	img, err := Create(p, CreateOptions{Size: 1 << 20, Fixed: true})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, VHDFooterSize), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantDamaged(t, p, VHD, "no valid VHD footer")
}

// TestMisnamedImageSaysWhatItHolds: a VHD named .vhdx is whole but
// misnamed; the message says to rename it.
func TestMisnamedImageSaysWhatItHolds(t *testing.T) {
	dir := t.TempDir()
	vhd := filepath.Join(dir, "a.vhd")
	img, err := Create(vhd, CreateOptions{Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	p := filepath.Join(dir, "a.vhdx")
	if err := os.Rename(vhd, p); err != nil {
		t.Fatal(err)
	}
	wantDamaged(t, p, VHDX, "holds a VHD, not a VHDX", "rename it to .vhd")
	// Forced to its real format it opens.
	img, err = Open(p, OpenOptions{Format: VHD, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
}

// TestOtherNamesStillDetectFromContent: the extension rule is for .vhdx
// and .vhd only; a raw .img, and a VHDX named .img, open as before, and a
// damaged VHDX signature under any name is damaged, not raw.
func TestOtherNamesStillDetectFromContent(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(raw, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Open(raw, OpenOptions{ReadOnly: true})
	if err != nil || img.Info().Format != Raw {
		t.Fatalf("raw .img: %v", err)
	}
	img.Close()
	vx := filepath.Join(dir, "v.vhdx")
	img, err = Create(vx, CreateOptions{Size: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	asImg := filepath.Join(dir, "v.img")
	if err := os.Rename(vx, asImg); err != nil {
		t.Fatal(err)
	}
	img, err = Open(asImg, OpenOptions{ReadOnly: true})
	if err != nil || img.Info().Format != VHDX {
		t.Fatalf("VHDX named .img: %v", err)
	}
	img.Close()
	sig := filepath.Join(dir, "sig.bin")
	if err := os.WriteFile(sig, append([]byte("vhdxfile"), make([]byte, 2<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	wantDamaged(t, sig, VHDX)
	// A missing file is not damaged: it says so.
	if _, err := Open(filepath.Join(dir, "gone.vhdx"), OpenOptions{}); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("missing: %v", err)
	}
}

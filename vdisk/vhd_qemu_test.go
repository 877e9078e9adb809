package vdisk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// TestVHDReadsQemuImages converts scattered random content to fixed and
// dynamic VHDs with qemu-img, and checks that we read back exactly what
// qemu-img converts back to raw.
func TestVHDReadsQemuImages(t *testing.T) {
	testenv.QemuImg(t)
	const size = 40 << 20
	cases := []struct{ name, opts string }{
		{"fixed", "subformat=fixed,force_size=on"},
		{"dynamic", "subformat=dynamic"},
		{"dynamic-forcesize", "subformat=dynamic,force_size=on"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ref := refRaw(t, dir, size, scatter(uint64(i+1), size))
			vhd := filepath.Join(dir, "q.vhd")
			testenv.Qemu(t, "convert", "-f", "raw", "-O", "vpc", "-o", c.opts, ref, vhd)
			back := filepath.Join(dir, "back.raw")
			testenv.Qemu(t, "convert", "-f", "vpc", "-O", "raw", vhd, back)

			if f, err := Detect(vhd); err != nil || f != VHD {
				t.Fatalf("Detect = %q, %v", f, err)
			}
			img, err := Open(vhd, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if got, want := img.Size(), qemuVirtualSize(t, "vpc", vhd); got != want {
				t.Fatalf("virtual size %d, qemu says %d", got, want)
			}
			sameBytes(t, "our read vs qemu-img convert -O raw", readAll(t, img), mustRead(t, back))
			if in := img.Info(); in.Fixed != (c.name == "fixed") || in.Format != VHD {
				t.Fatalf("Info = %+v", in)
			}
			checkAllocatedCovers(t, img)
		})
	}
}

// checkAllocatedCovers fails if any byte outside Allocated() is non-zero.
func checkAllocatedCovers(t *testing.T, img Image) {
	t.Helper()
	ext, err := img.Allocated()
	if err != nil {
		t.Fatal(err)
	}
	all := readAll(t, img)
	pos := int64(0)
	for _, e := range append(ext, Extent{Off: img.Size()}) {
		for i := pos; i < e.Off; i++ {
			if all[i] != 0 {
				t.Fatalf("byte %d is %#x but outside the allocated ranges %v", i, all[i], ext)
			}
		}
		pos = e.End()
	}
}

// TestWrittenImagesPassQemuCompare writes scattered random data into
// images we create and checks them with qemu-img against a reference
// raw file written with the os package.
func TestWrittenImagesPassQemuCompare(t *testing.T) {
	testenv.QemuImg(t)
	cases := []struct {
		name   string
		o      CreateOptions
		qemuFm string
	}{
		{"vhd-fixed", CreateOptions{Format: VHD, Fixed: true, Size: 40 << 20, AzureCompatible: true}, "vpc"},
		{"vhd-dynamic", CreateOptions{Format: VHD, Size: 40<<20 + 1536}, "vpc"},
		{"vhd-dynamic-512k", CreateOptions{Format: VHD, Size: 9 << 20, BlockSize: 512 << 10}, "vpc"},
		{"raw", CreateOptions{Format: Raw, Size: 40<<20 + 512}, "raw"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			// Write, overwrite part of it inside allocated blocks, and write
			// the first pattern again over that.
			ws := scatter(uint64(100+i), c.o.Size)
			ws = append(append(ws, scatter(uint64(200+i), c.o.Size)[:3]...), ws[:5]...)
			ref := refRaw(t, dir, c.o.Size, ws)
			p := filepath.Join(dir, "img")
			img, err := Create(p, c.o)
			if err != nil {
				t.Fatal(err)
			}
			applyWrites(t, img, ws)
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			testenv.Qemu(t, "compare", "-f", "raw", "-F", c.qemuFm, ref, p)
			if got := qemuVirtualSize(t, c.qemuFm, p); got != c.o.Size {
				t.Fatalf("qemu-img info: virtual size %d, want %d", got, c.o.Size)
			}
			img, err = Open(p, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			sameBytes(t, "reopened image", readAll(t, img), mustRead(t, ref))
			checkAllocatedCovers(t, img)
		})
	}
}

// TestFixedVHDFooterLikeQemu compares the footer of a fixed VHD we create
// with the one qemu-img writes for the same Azure-style size.
func TestFixedVHDFooterLikeQemu(t *testing.T) {
	testenv.QemuImg(t)
	dir := t.TempDir()
	const size = 127 << 30
	ours := filepath.Join(dir, "ours.vhd")
	img, err := Create(ours, CreateOptions{Format: VHD, Fixed: true, Size: size, AzureCompatible: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(ours)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != size+VHDFooterSize {
		t.Fatalf("file is %d bytes, want size+512 = %d (the page blob convention)", st.Size(), size+VHDFooterSize)
	}
	theirs := filepath.Join(dir, "qemu.vhd")
	testenv.Qemu(t, "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", theirs, itoa(size))
	o, q := readFooterAtEnd(t, ours), readFooterAtEnd(t, theirs)
	if o.CurrentSize != q.CurrentSize || o.OriginalSize != q.OriginalSize || o.DiskType != q.DiskType ||
		o.DataOffset != q.DataOffset || o.FormatVersion != q.FormatVersion || o.Features != q.Features {
		t.Fatalf("ours %+v\nqemu %+v", o, q)
	}
	// qemu with force_size writes the maximum geometry as a marker; without
	// it, qemu computes the spec's geometry, which is what we (and Hyper-V)
	// write.
	spec := filepath.Join(dir, "spec.vhd")
	testenv.Qemu(t, "create", "-q", "-f", "vpc", "-o", "subformat=fixed", spec, itoa(size))
	s := readFooterAtEnd(t, spec)
	if s.CurrentSize == size && (o.Cylinders != s.Cylinders || o.Heads != s.Heads || o.SectorsPerTrack != s.SectorsPerTrack) {
		t.Fatalf("geometry %d/%d/%d, qemu's spec geometry %d/%d/%d", o.Cylinders, o.Heads, o.SectorsPerTrack, s.Cylinders, s.Heads, s.SectorsPerTrack)
	}
	if got := qemuVirtualSize(t, "vpc", ours); got != size {
		t.Fatalf("qemu-img info: virtual size %d, want %d", got, size)
	}
}

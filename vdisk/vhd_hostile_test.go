package vdisk

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smallDynamicVHD creates a 4 MiB dynamic VHD with 512 KiB blocks and data
// in blocks 0 and 2, and returns its bytes.
func smallDynamicVHD(t testing.TB) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "small.vhd")
	img, err := Create(p, CreateOptions{Format: VHD, Size: 4 << 20, BlockSize: 512 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1 << 20} {
		if _, err := img.WriteAt([]byte("data in a block"), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setFooters applies fn to both footers of a dynamic VHD image and fixes
// their checksums.
func setFooters(b []byte, fn func(f []byte)) {
	for _, off := range []int{0, len(b) - VHDFooterSize} {
		f := b[off : off+VHDFooterSize]
		fn(f)
		fixSum(f)
	}
}

// setHeader applies fn to the dynamic header at 512 and fixes its checksum.
func setHeader(b []byte, fn func(h []byte)) {
	h := b[512 : 512+vhdHeaderSize]
	fn(h)
	binary.BigEndian.PutUint32(h[vhdHeaderChecksum:], vhdChecksum(h, vhdHeaderChecksum))
}

func batEntry(b []byte, i int) []byte { return b[1536+4*i : 1536+4*i+4] }

func TestVHDHostileImagesAreRefused(t *testing.T) {
	good := smallDynamicVHD(t)
	be := binary.BigEndian
	e0 := be.Uint32(batEntry(good, 0))
	cases := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"header checksum", func(b []byte) []byte { b[512+100] ^= 1; return b }, "header checksum"},
		{"header cookie", func(b []byte) []byte {
			setHeader(b, func(h []byte) { h[0] = 'X' })
			return b
		}, "header cookie"},
		{"bat entry past eof", func(b []byte) []byte {
			be.PutUint32(batEntry(b, 1), uint32(len(b)/512+10))
			return b
		}, "past the end"},
		{"bat entry huge", func(b []byte) []byte {
			be.PutUint32(batEntry(b, 1), 0xfffffff0)
			return b
		}, "past the end"},
		{"overlapping blocks", func(b []byte) []byte {
			be.PutUint32(batEntry(b, 3), e0+1)
			return b
		}, "overlapping"},
		{"block over the bat", func(b []byte) []byte {
			be.PutUint32(batEntry(b, 1), 3)
			return b
		}, "overlaps"},
		{"block over the footer copy", func(b []byte) []byte {
			be.PutUint32(batEntry(b, 1), 0)
			return b
		}, "overlaps"},
		{"too few bat entries", func(b []byte) []byte {
			setHeader(b, func(h []byte) { be.PutUint32(h[28:], 2) })
			return b
		}, "needs 8 blocks"},
		{"bat entries past eof", func(b []byte) []byte {
			setHeader(b, func(h []byte) { be.PutUint32(h[28:], 0xffffffff) })
			return b
		}, "BAT"},
		{"bat offset past eof", func(b []byte) []byte {
			setHeader(b, func(h []byte) { be.PutUint64(h[16:], 1<<40) })
			return b
		}, "BAT"},
		{"bat over header", func(b []byte) []byte {
			setHeader(b, func(h []byte) { be.PutUint64(h[16:], 1024) })
			return b
		}, "overlaps the dynamic header"},
		{"block size not power of two", func(b []byte) []byte {
			setHeader(b, func(h []byte) { be.PutUint32(h[32:], 3000) })
			return b
		}, "power of two"},
		{"absurd virtual size", func(b []byte) []byte {
			setFooters(b, func(f []byte) { be.PutUint64(f[48:], 1<<62) })
			return b
		}, "larger than any VHD"},
		{"too many blocks", func(b []byte) []byte {
			setFooters(b, func(f []byte) { be.PutUint64(f[48:], 16<<40) })
			return b
		}, "more than any VHD"},
		{"header offset past eof", func(b []byte) []byte {
			setFooters(b, func(f []byte) { be.PutUint64(f[16:], 1<<50) })
			return b
		}, "past the end"},
		{"header offset negative", func(b []byte) []byte {
			setFooters(b, func(f []byte) { be.PutUint64(f[16:], 1<<63) })
			return b
		}, "past the end"},
		{"both footers damaged", func(b []byte) []byte {
			b[100] ^= 1
			b[len(b)-100] ^= 1
			return b
		}, "checksum"},
		{"truncated fixed", func([]byte) []byte {
			f, _ := NewFixedVHDFooter(1 << 20)
			return append(make([]byte, 4096), f...)
		}, "truncated"},
		{"tiny file", func(b []byte) []byte { return b[:100] }, "smaller than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(append([]byte(nil), good...))
			p := filepath.Join(t.TempDir(), "bad.vhd")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			img, err := Open(p, OpenOptions{Format: VHD})
			if err == nil {
				img.Close()
				t.Fatal("opened a damaged image")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want ErrCorrupt mentioning %q", err, c.want)
			}
		})
	}
}

// TestVHDDamagedFooterCopyUsesFooter opens a dynamic VHD whose footer copy
// at offset 0 is damaged, using the footer at the end as the spec says,
// and repairs the copy on the next flush.
func TestVHDDamagedFooterCopyUsesFooter(t *testing.T) {
	b := smallDynamicVHD(t)
	b[100] ^= 1
	p := filepath.Join(t.TempDir(), "copy.vhd")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Open(p, OpenOptions{Format: VHD})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 15)
	if _, err := img.ReadAt(got, 1<<20); err != nil || string(got) != "data in a block" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseVHDFooter(mustRead(t, p)); err != nil {
		t.Fatalf("footer copy not repaired: %v", err)
	}
}

func TestVHDDifferencingIsUnsupported(t *testing.T) {
	b := smallDynamicVHD(t)
	setFooters(b, func(f []byte) { binary.BigEndian.PutUint32(f[60:], VHDTypeDifferencing) })
	p := filepath.Join(t.TempDir(), "child.vhd")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(p, OpenOptions{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "differencing") {
		t.Fatalf("err = %v; want ErrUnsupported naming a differencing disk", err)
	}
}

package vdisk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

func TestVHDFooterRoundTrip(t *testing.T) {
	b, err := NewFixedVHDFooter(10 << 20)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseVHDFooter(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.DiskType != VHDTypeFixed || f.CurrentSize != 10<<20 || f.OriginalSize != 10<<20 || f.DataOffset != ^uint64(0) {
		t.Fatalf("footer fields: %+v", f)
	}
	if got := f.Marshal(); !bytes.Equal(got, b) {
		t.Fatalf("Marshal(Parse(b)) differs from b")
	}
}

func TestParseVHDFooterRejectsDamage(t *testing.T) {
	good, err := NewFixedVHDFooter(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		mutate func(b []byte)
		want   string
	}{
		"cookie":   {func(b []byte) { b[0] = 'x' }, "cookie"},
		"checksum": {func(b []byte) { b[100] ^= 1 }, "checksum"},
		"short":    {nil, "bytes"},
		"type": {func(b []byte) {
			b[63] = 7
			fixSum(b)
		}, "disk type"},
		"size": {func(b []byte) {
			b[55] = 1
			fixSum(b)
		}, "multiple of 512"},
		"absurd": {func(b []byte) {
			b[48] = 0x7f
			fixSum(b)
		}, "larger than"},
		"version": {func(b []byte) {
			b[13] = 2
			fixSum(b)
		}, "version"},
		"dynoffset": {func(b []byte) {
			b[63] = 3
			fixSum(b)
		}, "header offset"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := append([]byte(nil), good...)
			if c.mutate == nil {
				b = b[:100]
			} else {
				c.mutate(b)
			}
			_, err := ParseVHDFooter(b)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrCorrupt mentioning %q", err, c.want)
			}
		})
	}
}

func fixSum(b []byte) {
	s := vhdChecksum(b[:VHDFooterSize], vhdChecksumField)
	b[64], b[65], b[66], b[67] = byte(s>>24), byte(s>>16), byte(s>>8), byte(s)
}

func TestAzureCompatibleSize(t *testing.T) {
	for _, ok := range []int64{1 << 20, 127 << 30, AzureMaxVHDSize} {
		if err := AzureCompatibleSize(ok); err != nil {
			t.Errorf("%d: %v", ok, err)
		}
	}
	bad := map[int64][]string{
		0:                       {"positive"},
		-5:                      {"positive"},
		1<<20 + 512:             {"whole number of MiB", "1048576", "2097152"},
		1000:                    {"1048576"},
		AzureMaxVHDSize + 1<<20: {"8 TiB", strconv.FormatInt(AzureMaxVHDSize, 10)},
	}
	for size, wants := range bad {
		err := AzureCompatibleSize(size)
		if err == nil {
			t.Errorf("%d accepted", size)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%d: %q does not mention %q", size, err, w)
			}
		}
		if _, err := NewFixedVHDFooter(size); err == nil {
			t.Errorf("NewFixedVHDFooter(%d) accepted", size)
		}
	}
}

// TestVHDGeometryMatchesQemu checks the spec's CHS algorithm against the
// geometry qemu writes when it is not told to force the size (qemu then
// uses the same algorithm), and checks our Azure footer against the one
// qemu writes with force_size in size and type.
func TestVHDGeometryMatchesQemu(t *testing.T) {
	testenv.QemuImg(t)
	dir := t.TempDir()
	for _, size := range []int64{1 << 20, 10 << 20, 100 << 20, 1 << 30, 127 << 30, 130 << 30, 2040 << 30} {
		p := filepath.Join(dir, "chs.vhd")
		testenv.Qemu(t, "create", "-q", "-f", "vpc", "-o", "subformat=fixed", p, strconv.FormatInt(size, 10))
		q := readFooterAtEnd(t, p)
		c, h, s := VHDGeometry(int64(q.CurrentSize))
		if c != q.Cylinders || h != q.Heads || s != q.SectorsPerTrack {
			t.Errorf("size %d: geometry %d/%d/%d, qemu wrote %d/%d/%d", q.CurrentSize, c, h, s, q.Cylinders, q.Heads, q.SectorsPerTrack)
		}
		os.Remove(p)
		if AzureCompatibleSize(size) != nil {
			continue
		}
		testenv.Qemu(t, "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", p, strconv.FormatInt(size, 10))
		q = readFooterAtEnd(t, p)
		b, err := NewFixedVHDFooter(size)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := ParseVHDFooter(b)
		if err != nil {
			t.Fatal(err)
		}
		if ours.CurrentSize != q.CurrentSize || ours.OriginalSize != q.OriginalSize || ours.DiskType != q.DiskType ||
			ours.DataOffset != q.DataOffset || ours.Features != q.Features || ours.FormatVersion != q.FormatVersion {
			t.Errorf("size %d: ours %+v, qemu %+v", size, ours, q)
		}
		os.Remove(p)
	}
}

func readFooterAtEnd(t *testing.T, p string) *VHDFooter {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	b := make([]byte, VHDFooterSize)
	if _, err := fh.ReadAt(b, st.Size()-VHDFooterSize); err != nil {
		t.Fatal(err)
	}
	f, err := ParseVHDFooter(b)
	if err != nil {
		t.Fatalf("qemu's footer: %v", err)
	}
	return f
}

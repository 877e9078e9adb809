package vdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyDynamicVHD builds a dynamic VHD small enough for a fuzz seed: size
// bytes in blocks of blockSize (below what Create allows, as other tools
// may write), with the given offsets written.
func tinyDynamicVHD(tb testing.TB, size, blockSize int64, offs ...int64) []byte {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "tiny.vhd")
	f, err := createFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	img, err := writeDynamicVHD(f, p, size, blockSize)
	if err != nil {
		tb.Fatal(err)
	}
	for _, off := range offs {
		if _, err := img.WriteAt([]byte("seed"), off); err != nil {
			tb.Fatal(err)
		}
	}
	if err := img.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func tinyFixedVHD(tb testing.TB) []byte {
	ft, err := newVHDFooter(VHDTypeFixed, 1024, vhdFixedOffset)
	if err != nil {
		tb.Fatal(err)
	}
	return append(append([]byte("seed"), make([]byte, 1020)...), ft.Marshal()...)
}

// fuzzOpenSeeds are the inputs FuzzVHDOpen starts from; testdata holds
// the same kind, stored so CI replays them.
func fuzzOpenSeeds(tb testing.TB) map[string][]byte {
	dyn := tinyDynamicVHD(tb, 1536, 512, 0)
	overlap := append([]byte(nil), dyn...)
	copy(overlap[1536+4:], overlap[1536:1540]) // entry 1 = entry 0
	headBad := append([]byte(nil), dyn...)
	headBad[90] ^= 0xff
	return map[string][]byte{
		"dynamic":      dyn,
		"dynamic-4k":   tinyDynamicVHD(tb, 16<<10, 4096, 0, 9000),
		"fixed":        tinyFixedVHD(tb),
		"overlap":      overlap,
		"head-damaged": headBad,
	}
}

func FuzzVHDFooter(f *testing.F) {
	fixed, _ := NewFixedVHDFooter(1 << 20)
	f.Add(fixed)
	dyn, _ := newVHDFooter(VHDTypeDynamic, 3<<30, 512)
	f.Add(dyn.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		ft, err := ParseVHDFooter(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		again, err := ParseVHDFooter(ft.Marshal())
		if err != nil {
			t.Fatalf("a parsed footer does not parse after Marshal: %v", err)
		}
		if *again != *ft {
			t.Fatalf("round trip changed the footer:\n%+v\n%+v", ft, again)
		}
	})
}

// FuzzVHDOpen opens arbitrary files as VHDs: they must be refused with
// ErrCorrupt or ErrUnsupported, or behave: reads succeed, Allocated is
// sane, and a write reads back after reopening.
func FuzzVHDOpen(f *testing.F) {
	for _, b := range fuzzOpenSeeds(f) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, fixSums bool) {
		if len(b) > 1<<20 {
			return
		}
		if fixSums {
			// Let mutations reach past the checksums into the structure.
			b = fixVHDChecksums(b)
		}
		p := filepath.Join(t.TempDir(), "f.vhd")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := Open(p, OpenOptions{Format: VHD})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither ErrCorrupt nor ErrUnsupported: %v", err)
			}
			return
		}
		if err := exerciseImage(img); err != nil {
			img.Close()
			t.Fatal(err)
		}
		if err := img.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		img, err = Open(p, OpenOptions{Format: VHD})
		if err != nil {
			t.Fatalf("reopen after our write: %v", err)
		}
		defer img.Close()
		got := make([]byte, 4)
		if _, err := img.ReadAt(got, fuzzWriteAt(img)); err != nil || string(got) != "fuzz" {
			t.Fatalf("after reopen read %q, %v", got, err)
		}
	})
}

// fixVHDChecksums recomputes the checksums of both footers and of the
// dynamic header the first footer points to, where they fit.
func fixVHDChecksums(b []byte) []byte {
	b = append([]byte(nil), b...)
	if len(b) < VHDFooterSize {
		return b
	}
	fixSum(b[:VHDFooterSize])
	fixSum(b[len(b)-VHDFooterSize:])
	hoff := binary.BigEndian.Uint64(b[16:])
	if hoff < uint64(len(b)) && uint64(len(b))-hoff >= vhdHeaderSize {
		h := b[hoff : hoff+vhdHeaderSize]
		binary.BigEndian.PutUint32(h[vhdHeaderChecksum:], vhdChecksum(h, vhdHeaderChecksum))
	}
	return b
}

func fuzzWriteAt(img Image) int64 { return min(img.Size()-4, 4093) }

// exerciseImage reads a fuzzed image as callers would, then writes and
// flushes.
func exerciseImage(img Image) error {
	if err := fuzzRead(img); err != nil {
		return err
	}
	at := fuzzWriteAt(img)
	if _, err := img.WriteAt([]byte("fuzz"), at); err != nil {
		return fmt.Errorf("write at %d: %w", at, err)
	}
	got := make([]byte, 4)
	if _, err := img.ReadAt(got, at); err != nil || !bytes.Equal(got, []byte("fuzz")) {
		return fmt.Errorf("read back %q, %v", got, err)
	}
	return img.Flush()
}

// TestWriteFuzzSeeds regenerates the stored seed corpus when
// FAILBACK_WRITE_FUZZ_SEEDS=1; otherwise it checks the stored seeds exist.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVHDOpen")
	if os.Getenv("FAILBACK_WRITE_FUZZ_SEEDS") != "1" {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) == 0 {
			t.Fatalf("no stored seeds in %s: %v", dir, err)
		}
		return
	}
	write := func(dir, name string, b []byte) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if strings.HasPrefix(dir, filepath.Join("testdata", "fuzz", "FuzzVHDOpen")) {
			s += "bool(true)\n"
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range fuzzOpenSeeds(t) {
		if len(b) > 4096 {
			continue // keep the stored corpus small
		}
		write(dir, name, b)
	}
	fdir := filepath.Join("testdata", "fuzz", "FuzzVHDFooter")
	fixed, _ := NewFixedVHDFooter(1 << 20)
	write(fdir, "fixed", fixed)
	q, _ := newVHDFooter(VHDTypeFixed, 1<<20, vhdFixedOffset)
	q.CreatorApp, q.Cylinders, q.Heads, q.SectorsPerTrack = [4]byte{'q', 'e', 'm', '2'}, 65535, 16, 255
	write(fdir, "qemu-force-size", q.Marshal())
	dyn, _ := newVHDFooter(VHDTypeDynamic, 3<<30, 512)
	b := dyn.Marshal()
	binary.BigEndian.PutUint32(b[60:], VHDTypeDifferencing)
	fixSum(b)
	write(fdir, "differencing", b)
}

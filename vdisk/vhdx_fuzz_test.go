package vdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A VHDX is at least a few MiB, almost all zeros, so fuzz inputs describe
// files sparsely: uvarint file size (capped at 64 MiB), then records of
// uvarint gap (from the end of the previous record), uvarint length and that
// many bytes. This keeps seeds small (a few KiB) while mutations still land
// on real structure bytes. A truncated input ends the description.
const vxFuzzMaxFile = 64 << 20

func vxSparseDecode(data []byte) (size int64, patches []vxWrite) {
	u, n := binary.Uvarint(data)
	if n <= 0 {
		return 0, nil
	}
	size = int64(min(u, vxFuzzMaxFile))
	data = data[n:]
	pos := int64(0)
	for len(data) > 0 {
		gap, n1 := binary.Uvarint(data)
		if n1 <= 0 {
			break
		}
		l, n2 := binary.Uvarint(data[n1:])
		if n2 <= 0 {
			break
		}
		data = data[n1+n2:]
		l = min(l, uint64(len(data)))
		if gap >= uint64(size) || uint64(pos)+gap >= uint64(size) {
			break
		}
		pos += int64(gap)
		k := min(int64(l), size-pos)
		patches = append(patches, vxWrite{off: pos, data: data[:k]})
		pos += k
		data = data[l:]
	}
	return size, patches
}

// vxSparseEncode describes a file by its runs of non-zero bytes.
func vxSparseEncode(b []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(len(b)))
	pos := 0
	for i := 0; i < len(b); {
		if b[i] == 0 {
			i++
			continue
		}
		j, zeros := i, 0
		for j < len(b) && zeros < 32 { // runs split at 32 zero bytes
			if b[j] == 0 {
				zeros++
			} else {
				zeros = 0
			}
			j++
		}
		j -= zeros
		out = binary.AppendUvarint(out, uint64(i-pos))
		out = binary.AppendUvarint(out, uint64(j-i))
		out = append(out, b[i:j]...)
		pos, i = j, j
	}
	return out
}

// vxFixSums recomputes both headers' and region tables' CRC-32C, so that
// mutations reach the fields behind them.
func vxFixSums(f *os.File) {
	for _, t := range []struct{ off, n int64 }{{vhdxHeader1Off, vhdxHeaderSize}, {vhdxHeader2Off, vhdxHeaderSize},
		{vhdxRegion1Off, vhdxTableSize}, {vhdxRegion2Off, vhdxTableSize}} {
		b := make([]byte, t.n)
		if _, err := f.ReadAt(b, t.off); err != nil {
			return
		}
		binary.LittleEndian.PutUint32(b[4:], checksumAt(b, 4))
		_, _ = f.WriteAt(b[4:8], t.off+4)
	}
}

// FuzzVHDXOpen opens arbitrary files as VHDX. Each must be refused with an
// error wrapping ErrCorrupt or ErrUnsupported, or behave: reads succeed and
// Allocated is sane; and, when write is set, a writable open (which replays
// any log) takes writes, zeroes and a flush, and the file reopens with them.
func FuzzVHDXOpen(f *testing.F) {
	f.Add(vxSparseEncode(vxHostileBase(f)), false, true)
	f.Fuzz(func(t *testing.T, data []byte, fix, write bool) {
		size, patches := vxSparseDecode(data)
		p := filepath.Join(t.TempDir(), "f.vhdx")
		fl, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := fl.Truncate(size); err != nil {
			t.Fatal(err)
		}
		for _, w := range patches {
			if _, err := fl.WriteAt(w.data, w.off); err != nil {
				t.Fatal(err)
			}
		}
		if fix {
			vxFixSums(fl)
		}
		fl.Close()
		img, err := Open(p, OpenOptions{Format: VHDX, ReadOnly: true})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither ErrCorrupt nor ErrUnsupported: %v", err)
			}
			return
		}
		err = vxFuzzRead(img)
		img.Close()
		if err != nil {
			t.Fatal(err)
		}
		if write {
			vxFuzzWrite(t, p)
		}
	})
}

// vxFuzzRead reads the places a caller would and checks Allocated.
func vxFuzzRead(img Image) error {
	if err := fuzzRead(img); err != nil {
		return err
	}
	if in := img.Info(); in.VirtualSize != img.Size() || in.Format != VHDX {
		return fmt.Errorf("info %+v", in)
	}
	return nil
}

// fuzzRead checks that Allocated is sorted, disjoint and inside the disk,
// then reads 8 KiB at the start, the middle, the end and the first
// allocated extents, as callers of a hostile image would.
func fuzzRead(img Image) error {
	size := img.Size()
	ext, err := img.Allocated()
	if err != nil {
		return fmt.Errorf("allocated: %w", err)
	}
	prev := int64(-1)
	for _, e := range ext {
		if e.Off <= prev || e.Len <= 0 || e.End() > size {
			return fmt.Errorf("bad allocated list %v for size %d", ext, size)
		}
		prev = e.End()
	}
	offs := []int64{0, size / 2, max(0, size-8192)}
	for i := 0; i < len(ext) && i < 16; i++ {
		offs = append(offs, ext[i].Off)
	}
	buf := make([]byte, 8192)
	for _, off := range offs {
		n := min(int64(len(buf)), size-off)
		if k, err := img.ReadAt(buf[:n], off); int64(k) != n || err != nil {
			return fmt.Errorf("read %d bytes at %d = %d, %v", n, off, k, err)
		}
	}
	return nil
}

// vxFuzzWrite opens the file writable, writes, zeroes, flushes, closes and
// checks the result reopens with the writes in place.
func vxFuzzWrite(t *testing.T, p string) {
	img, err := Open(p, OpenOptions{Format: VHDX})
	if err != nil {
		var pe *fs.PathError
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.As(err, &pe) {
			t.Fatalf("writable open: %v", err)
		}
		return
	}
	size, bs := img.Size(), img.Info().BlockSize
	at := []int64{min(size-1, 4093), size - 1}
	steps := []error{img.(Zeroer).WriteZeroes(0, min(size, bs)), img.(Zeroer).WriteZeroes(size/2, min(size-size/2, 5000))}
	for _, off := range at {
		_, err := img.WriteAt([]byte{'z'}, off)
		steps = append(steps, err)
	}
	steps = append(steps, img.Flush(), img.Close())
	if err := errors.Join(steps...); err != nil {
		var pe *fs.PathError
		if !errors.As(err, &pe) { // a full or size-limited disk is not a bug
			t.Fatalf("write to an image we accepted: %v", err)
		}
		return
	}
	img, err = Open(p, OpenOptions{Format: VHDX, ReadOnly: true})
	if err != nil {
		t.Fatalf("reopen after our writes: %v", err)
	}
	defer img.Close()
	for _, off := range at {
		got := []byte{0}
		if _, err := img.ReadAt(got, off); err != nil || got[0] != 'z' {
			t.Fatalf("after reopen, byte at %d = %q, %v", off, got, err)
		}
	}
	if err := vxFuzzRead(img); err != nil {
		t.Fatal(err)
	}
}

// TestVHDXSparseEncoding: the fuzz input form describes a file exactly.
func TestVHDXSparseEncoding(t *testing.T) {
	b := vxHostileBase(t)
	size, patches := vxSparseDecode(vxSparseEncode(b))
	got := make([]byte, size)
	for _, w := range patches {
		copy(got[w.off:], w.data)
	}
	if !bytes.Equal(got, b) {
		t.Fatal("decode(encode(file)) differs from the file")
	}
}

// vxFuzzSeedDir holds the stored corpus that every `go test` replays.
var vxFuzzSeedDir = filepath.Join("testdata", "fuzz", "FuzzVHDXOpen")

// TestVHDXFuzzSeeds regenerates the stored seed corpus (qemu-made images,
// ours, pending logs, damaged ones) when FAILBACK_WRITE_VHDX_FUZZ_SEEDS=1;
// otherwise it checks the stored seeds exist and stay small.
func TestVHDXFuzzSeeds(t *testing.T) {
	if os.Getenv("FAILBACK_WRITE_VHDX_FUZZ_SEEDS") == "1" {
		if err := os.MkdirAll(vxFuzzSeedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, s := range vxFuzzSeeds(t) {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\nbool(%v)\n", vxSparseEncode(s.file), s.fix, s.write)
			if err := os.WriteFile(filepath.Join(vxFuzzSeedDir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ents, err := os.ReadDir(vxFuzzSeedDir)
	if err != nil || len(ents) < 8 {
		t.Fatalf("want at least 8 stored seeds in %s (regenerate with FAILBACK_WRITE_VHDX_FUZZ_SEEDS=1): %d, %v", vxFuzzSeedDir, len(ents), err)
	}
	for _, e := range ents {
		if st, err := e.Info(); err != nil || st.Size() > 64<<10 {
			t.Errorf("seed %s is over 64 KiB", e.Name())
		}
	}
}

package vdisk

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// The VHD layer against a raw file, 1 MiB at a time, on a 256 MiB disk:
// go test -run '^$' -bench 'VHD|Raw' ./vdisk
func BenchmarkVHDDynamicWriteSeq(b *testing.B) { benchIO(b, CreateOptions{Format: VHD}, true, false) }
func BenchmarkVHDDynamicReadSeq(b *testing.B)  { benchIO(b, CreateOptions{Format: VHD}, false, false) }
func BenchmarkVHDDynamicReadRand(b *testing.B) { benchIO(b, CreateOptions{Format: VHD}, false, true) }
func BenchmarkRawWriteSeq(b *testing.B)        { benchIO(b, CreateOptions{Format: Raw}, true, false) }
func BenchmarkRawReadSeq(b *testing.B)         { benchIO(b, CreateOptions{Format: Raw}, false, false) }
func BenchmarkRawReadRand(b *testing.B)        { benchIO(b, CreateOptions{Format: Raw}, false, true) }

func benchIO(b *testing.B, o CreateOptions, write, random bool) {
	const size, chunk = 256 << 20, 1 << 20
	o.Size = size
	img, err := Create(filepath.Join(b.TempDir(), "bench"), o)
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	if !write {
		for off := int64(0); off < size; off += chunk {
			if _, err := img.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(chunk)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		off := int64(i%(size/chunk)) * chunk
		if random {
			off = r.Int64N(size/chunk) * chunk
		}
		if write {
			_, err = img.WriteAt(buf, off)
		} else {
			_, err = img.ReadAt(buf, off)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

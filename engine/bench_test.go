package engine

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/failback/failback/engine/enginetest"
	"github.com/failback/failback/vdisk"
)

// Delta compare throughput: two identical, fully allocated disks, so every
// block is read and hashed on both sides and nothing is written. MB/s is
// disk bytes compared per second.

func BenchmarkDeltaCompareMem(b *testing.B) {
	const size = 256 << 20
	rng := rand.New(rand.NewPCG(1, 1))
	src := enginetest.NewMemDisk(size, 1<<20)
	mustWrite(src, randBytes(rng, size), 0)
	dst := src.Clone()
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		st, err := Sync(bg, src, dst, Options{NoJournal: true})
		if err != nil || st.BlocksDiffered != 0 {
			b.Fatal(st, err)
		}
	}
}

func BenchmarkDeltaCompareFiles(b *testing.B) {
	benchFiles(b, 0, false)
}

// BenchmarkDelta1PercentFilesJournal: 1% of the blocks differ, with the
// undo and resume journals on (the default of the sync command).
func BenchmarkDelta1PercentFilesJournal(b *testing.B) {
	benchFiles(b, 0.01, true)
}

func benchFiles(b *testing.B, changed float64, journal bool) {
	const size = 512 << 20
	const bs = 1 << 20
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(2, 2))
	data := randBytes(rng, size)
	srcPath, dstPath := filepath.Join(dir, "src.raw"), filepath.Join(dir, "dst.raw")
	for _, p := range []string{srcPath, dstPath} {
		img, err := vdisk.Create(p, vdisk.CreateOptions{Format: vdisk.Raw, Size: size})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := img.WriteAt(data, 0); err != nil {
			b.Fatal(err)
		}
		img.Close()
	}
	src, _ := vdisk.Open(srcPath, vdisk.OpenOptions{ReadOnly: true})
	dst, _ := vdisk.Open(dstPath, vdisk.OpenOptions{})
	defer src.Close()
	defer dst.Close()
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		n := int(changed * size / bs)
		for _, blk := range rng.Perm(size / bs)[:n] {
			dst.WriteAt([]byte{byte(i), 1, 2, 3}, int64(blk)*bs)
		}
		o := Options{NoJournal: !journal}
		if journal {
			o.JournalDir = filepath.Join(dir, "j")
		}
		b.StartTimer()
		st, err := Sync(bg, ImageSource(src), ImageTarget(dst), o)
		if err != nil || st.BlocksDiffered != int64(n) {
			b.Fatal(st, err)
		}
		if journal {
			b.StopTimer()
			if err := DiscardJournal(o.JournalDir); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

package engine

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/vdisk"
)

// TestImageAdaptersAcrossFormats syncs between real images of every
// format through ImageSource/ImageTarget: qemu-img must find the result
// identical to the source, zero source blocks must not allocate target
// blocks, and a rollback must give back an image qemu-img finds identical
// to the original.
func TestImageAdaptersAcrossFormats(t *testing.T) {
	testenv.QemuImg(t)
	const size, bs = 24 << 20, 1 << 20
	rng := rand.New(rand.NewPCG(11, 11))
	for _, tc := range []struct {
		name     string
		src, dst vdisk.CreateOptions
		mode     Mode
	}{
		{"raw to vhdx", vdisk.CreateOptions{Format: vdisk.Raw}, vdisk.CreateOptions{Format: vdisk.VHDX, BlockSize: 1 << 20}, Delta},
		{"vhdx to vhd dynamic", vdisk.CreateOptions{Format: vdisk.VHDX, BlockSize: 2 << 20}, vdisk.CreateOptions{Format: vdisk.VHD, BlockSize: 1 << 20}, Full},
		{"vhd fixed to raw", vdisk.CreateOptions{Format: vdisk.VHD, Fixed: true}, vdisk.CreateOptions{Format: vdisk.Raw}, Delta},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			srcPath := filepath.Join(dir, "src."+string(tc.src.Format))
			dstPath := filepath.Join(dir, "dst."+string(tc.dst.Format))
			origPath := filepath.Join(dir, "orig.raw")
			src := createImage(t, srcPath, tc.src, size)
			dst := createImage(t, dstPath, tc.dst, size)
			// Source: data in some MiB blocks, zeros written in others.
			// Target: old data partly overlapping.
			var zeroBlocks []int64
			for b := int64(0); b < size/bs; b++ {
				switch rng.IntN(4) {
				case 0:
					writeImage(t, src, randBytes(rng, bs), b*bs)
				case 1:
					writeImage(t, src, make([]byte, bs), b*bs)
					zeroBlocks = append(zeroBlocks, b)
				default:
					zeroBlocks = append(zeroBlocks, b)
				}
				if rng.IntN(2) == 0 {
					writeImage(t, dst, randBytes(rng, bs/2), b*bs+bs/4)
				}
			}
			orig := make([]byte, size)
			if _, err := dst.ReadAt(orig, 0); err != nil {
				t.Fatal(err)
			}
			o := createImage(t, origPath, vdisk.CreateOptions{Format: vdisk.Raw}, size)
			writeImage(t, o, orig, 0)
			o.Close()
			allocBefore, _ := dst.Allocated()

			jdir := filepath.Join(dir, "journal")
			st, err := Sync(bg, ImageSource(src), ImageTarget(dst), Options{Mode: tc.mode, JournalDir: jdir, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if st.BlocksDiffered == 0 {
				t.Fatal("nothing transferred")
			}
			after, _ := dst.Allocated()
			for _, b := range zeroBlocks {
				off := b * bs
				if newCursor(after).any(off, off+bs) && !newCursor(vdisk.NormalizeExtents(allocBefore, size)).any(off, off+bs) {
					t.Fatalf("zero source block %d allocated target space", b)
				}
			}
			src.Close()
			dst.Close()
			qemuCompare(t, srcPath, tc.src.Format, dstPath, tc.dst.Format)

			dst = openImage(t, dstPath)
			if _, err := Rollback(bg, jdir, ImageTarget(dst), RollbackOptions{}); err != nil {
				t.Fatal(err)
			}
			dst.Close()
			qemuCompare(t, origPath, vdisk.Raw, dstPath, tc.dst.Format)
		})
	}
}

func qemuFormat(f vdisk.Format) string {
	if f == vdisk.VHD {
		return "vpc"
	}
	return string(f)
}

func qemuCompare(t *testing.T, a string, af vdisk.Format, b string, bf vdisk.Format) {
	t.Helper()
	testenv.Qemu(t, "compare", "-q", "-f", qemuFormat(af), "-F", qemuFormat(bf), a, b)
}

func createImage(t *testing.T, path string, o vdisk.CreateOptions, size int64) vdisk.Image {
	t.Helper()
	o.Size = size
	img, err := vdisk.Create(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

func openImage(t *testing.T, path string) vdisk.Image {
	t.Helper()
	img, err := vdisk.Open(path, vdisk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

func writeImage(t *testing.T, img vdisk.Image, p []byte, off int64) {
	t.Helper()
	if _, err := img.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
}

// TestImageSourceShortRead: a read past the end is an error, not zeros.
func TestImageSourceShortRead(t *testing.T) {
	img := createImage(t, filepath.Join(t.TempDir(), "d.raw"), vdisk.CreateOptions{Format: vdisk.Raw}, 1<<20)
	p := make([]byte, 4096)
	if err := ImageSource(img).ReadAt(bg, p, 1<<20-2048); err == nil {
		t.Fatal("read past the end succeeded")
	}
	if _, ok := ImageTarget(img).(Zeroer); !ok {
		t.Fatal("raw image target lost its Zeroer")
	}
}

package vdisk

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/failback/failback/internal/testenv"
)

// vxQemuCase is one qemu-made image.
type vxQemuCase struct {
	sub   string // dynamic or fixed
	block int64
	size  int64
}

func (c vxQemuCase) String() string { return fmt.Sprintf("%s-%dM-%dK", c.sub, c.block>>20, c.size>>10) }

var vxQemuCases = []vxQemuCase{
	{"dynamic", 1 << 20, 13<<20 + 512},
	{"dynamic", 8 << 20, 40 << 20},
	{"dynamic", 32 << 20, 70<<20 + 4096},
	{"fixed", 1 << 20, 9 << 20},
	{"fixed", 8 << 20, 20<<20 + 512},
	{"fixed", 32 << 20, 40 << 20},
}

// TestVHDXReadsQemuConvertedImages: qemu-img convert -O vhdx of a raw file
// with random scattered data reads back identical through our code, to the
// source and to qemu's own conversion back to raw; Info and Allocated say
// what qemu made.
func TestVHDXReadsQemuConvertedImages(t *testing.T) {
	testenv.QemuImg(t)
	for i, c := range vxQemuCases {
		t.Run(c.String(), func(t *testing.T) {
			dir := t.TempDir()
			raw := filepath.Join(dir, "src.raw")
			want := vxRef(t, raw, c.size, vxScatter(uint64(i+1), c.size, c.block))
			p := filepath.Join(dir, "q.vhdx")
			testenv.Qemu(t, "convert", "-f", "raw", "-O", "vhdx", "-o",
				fmt.Sprintf("subformat=%s,block_size=%d", c.sub, c.block), raw, p)
			vxReadsLikeQemu(t, p, c, want)
		})
	}
}

// TestVHDXReadsQemuIOImages: images made by qemu-img create and written by
// qemu-io (which goes through qemu's own log and BAT updates) read back
// right; then our writes on top of them pass qemu-img check and compare.
func TestVHDXReadsQemuIOImages(t *testing.T) {
	testenv.QemuImg(t)
	for i, c := range vxQemuCases {
		t.Run(c.String(), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "q.vhdx")
			testenv.Qemu(t, "create", "-f", "vhdx", "-o",
				fmt.Sprintf("subformat=%s,block_size=%d,log_size=1M", c.sub, c.block), p, fmt.Sprint(c.size))
			r := rand.New(rand.NewPCG(uint64(i), 7))
			want := make([]byte, c.size)
			var cmds []string
			for range 12 {
				n := (r.Int64N(64) + 1) * 512
				off := r.Int64N((c.size-n)/512+1) * 512
				pat := byte(r.IntN(255) + 1)
				cmds = append(cmds, fmt.Sprintf("write -P %d %d %d", pat, off, n))
				for j := off; j < off+n; j++ {
					want[j] = pat
				}
			}
			vxQemuIO(t, p, cmds...)
			vxReadsLikeQemu(t, p, c, want)

			// Our writes on top of qemu's image.
			img := vxOpen(t, p, false)
			ws := vxScatter(uint64(i+100), c.size, c.block)
			vxApply(t, img, ws)
			vxClose(t, img)
			raw := filepath.Join(dir, "want.raw")
			if err := os.WriteFile(raw, want, 0o644); err != nil {
				t.Fatal(err)
			}
			want = vxRef(t, raw, c.size, ws)
			vxQemuAgrees(t, p, raw)
			img = vxOpen(t, p, true)
			sameBytes(t, "reopened after our writes", readAll(t, img), want)
			vxClose(t, img)
		})
	}
}

// vxReadsLikeQemu checks our view of a qemu-made image against the expected
// content and against qemu's own reading of it.
func vxReadsLikeQemu(t *testing.T, p string, c vxQemuCase, want []byte) {
	t.Helper()
	sameBytes(t, "qemu-img convert -O raw", vxQemuRaw(t, p), want)
	img := vxOpen(t, p, true)
	defer vxClose(t, img)
	got := readAll(t, img)
	sameBytes(t, "our read", got, want)
	ext := vxCheckAllocated(t, img, got)
	in := img.Info()
	if in.Format != VHDX || in.VirtualSize != c.size || in.BlockSize != c.block || in.Fixed != (c.sub == "fixed") ||
		in.LogicalSector != 512 || in.PhysicalSector != 512 || in.Path != p {
		t.Errorf("Info() = %+v for a qemu %v", in, c)
	}
	st, _ := os.Stat(p)
	if in.FileSize != st.Size() {
		t.Errorf("Info().FileSize = %d, file has %d", in.FileSize, st.Size())
	}
	var sum int64
	for _, e := range ext {
		sum += e.Len
	}
	if in.AllocatedBytes != sum {
		t.Errorf("AllocatedBytes %d, extents sum to %d", in.AllocatedBytes, sum)
	}
	// qemu allocates exactly the blocks it wrote data to, fixed or not:
	// its "fixed" images start with every block in the ZERO state.
	if want := vxNonZeroBlocks(got, c.block); !slices.Equal(ext, want) {
		t.Errorf("Allocated() = %v, blocks with data are %v", ext, want)
	}
}

// vxNonZeroBlocks lists, merged, the blocks of content that hold data.
func vxNonZeroBlocks(content []byte, block int64) []Extent {
	var out []Extent
	for off := int64(0); off < int64(len(content)); off += block {
		end := min(off+block, int64(len(content)))
		if vxNonZero(content[off:end]) < 0 {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k].End() == off {
			out[k].Len += end - off
		} else {
			out = append(out, Extent{off, end - off})
		}
	}
	return out
}

// vxLayouts are the images we create in the write tests.
var vxLayouts = []CreateOptions{
	{Size: 23<<20 + 4096, BlockSize: 1 << 20, LogicalSector: 512, PhysicalSector: 512},
	{Size: 23<<20 + 4096, BlockSize: 1 << 20, LogicalSector: 4096, PhysicalSector: 4096},
	{Size: 70<<20 + 4096, BlockSize: 32 << 20, LogicalSector: 512},
	{Size: 70<<20 + 4096, BlockSize: 32 << 20, LogicalSector: 4096},
	{Size: 23<<20 + 4096, BlockSize: 1 << 20, LogicalSector: 512, Fixed: true},
	{Size: 23<<20 + 4096, BlockSize: 1 << 20, LogicalSector: 4096, Fixed: true},
	{Size: 70<<20 + 4096, BlockSize: 32 << 20, LogicalSector: 512, Fixed: true},
	{Size: 70<<20 + 4096, BlockSize: 32 << 20, LogicalSector: 4096, Fixed: true},
}

func vxLayoutName(o CreateOptions) string {
	kind := "dynamic"
	if o.Fixed {
		kind = "fixed"
	}
	return fmt.Sprintf("%s-%dM-%d", kind, o.BlockSize>>20, o.LogicalSector)
}

// TestVHDXWrittenImagesPassQemu: images we create and fill with random
// scattered writes and zeroes pass qemu-img check and compare equal to the
// raw content we wrote, and qemu sees the size and block size we asked for.
func TestVHDXWrittenImagesPassQemu(t *testing.T) {
	testenv.QemuImg(t)
	for i, o := range vxLayouts {
		t.Run(vxLayoutName(o), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "ours.vhdx")
			raw := filepath.Join(dir, "want.raw")
			img := vxCreate(t, p, o)
			ws := vxScatter(uint64(i+1), o.Size, o.BlockSize)
			vxApply(t, img, ws[:len(ws)/2])
			if err := img.Flush(); err != nil {
				t.Fatal(err)
			}
			vxApply(t, img, ws[len(ws)/2:])
			vxClose(t, img)
			want := vxRef(t, raw, o.Size, ws)

			img = vxOpen(t, p, true)
			got := readAll(t, img)
			sameBytes(t, "reopened", got, want)
			ext := vxCheckAllocated(t, img, got)
			if wantExt := vxExpectAllocated(ws, o); !slices.Equal(ext, wantExt) {
				t.Errorf("Allocated() = %v, want %v", ext, wantExt)
			}
			in := img.Info()
			wantPhys := o.PhysicalSector
			if wantPhys == 0 {
				wantPhys = 4096
			}
			if in.Fixed != o.Fixed || in.LogicalSector != o.LogicalSector || in.PhysicalSector != wantPhys || in.BlockSize != o.BlockSize {
				t.Errorf("Info() = %+v, created with %+v", in, o)
			}
			vxClose(t, img)

			vxQemuView(t, p, o.LogicalSector)
			vxQemuAgrees(t, p, raw)
			sameBytes(t, "qemu-img convert -O raw", vxQemuRaw(t, p), want)
			var info struct {
				VirtualSize int64 `json:"virtual-size"`
				ClusterSize int64 `json:"cluster-size"`
			}
			if err := json.Unmarshal([]byte(testenv.Qemu(t, "info", "-f", "vhdx", "--output=json", p)), &info); err != nil {
				t.Fatal(err)
			}
			if info.VirtualSize != o.Size || info.ClusterSize != o.BlockSize {
				t.Errorf("qemu-img info: size %d block %d, want %d and %d", info.VirtualSize, info.ClusterSize, o.Size, o.BlockSize)
			}
		})
	}
}

// vxExpectAllocated is what Allocated() must say after ws on a new disk:
// a fixed disk is all allocated; on a dynamic one a write allocates its
// blocks and a WriteZeroes of a whole block unallocates it.
func vxExpectAllocated(ws []vxWrite, o CreateOptions) []Extent {
	blocks := make([]bool, (o.Size+o.BlockSize-1)/o.BlockSize)
	for _, w := range ws {
		end := w.off + int64(len(w.data))
		for b := w.off / o.BlockSize; b*o.BlockSize < end; b++ {
			whole := w.off <= b*o.BlockSize && end >= min((b+1)*o.BlockSize, o.Size)
			if !w.zero {
				blocks[b] = true
			} else if whole {
				blocks[b] = false
			}
		}
	}
	var out []Extent
	for b, on := range blocks {
		if !on && !o.Fixed {
			continue
		}
		e := Extent{int64(b) * o.BlockSize, min(o.BlockSize, o.Size-int64(b)*o.BlockSize)}
		if k := len(out) - 1; k >= 0 && out[k].End() == e.Off {
			out[k].Len += e.Len
		} else {
			out = append(out, e)
		}
	}
	return out
}

// vxQemuView makes an image we wrote readable by qemu, in place (so do our
// own checks first). qemu 7.2 refuses VHDX with 4096-byte logical sectors
// (ENOTSUP), so for those it rewrites the logical sector item to 512: while a
// disk has fewer blocks than a 512-byte chunk ratio, the BAT layout is the
// same for both sizes, so qemu then checks everything else (headers,
// regions, BAT, data) for real. The interleaving that differs is proven by
// TestVHDXBATInterleave.
func vxQemuView(t testing.TB, p string, logical int) {
	t.Helper()
	if logical != 4096 {
		return
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Our layout: metadata region at 2 MiB, its table entry 3 (at 32+3*32)
	// is the logical sector size, whose item lives at 64 KiB+32.
	entry := make([]byte, 20)
	if _, err := f.ReadAt(entry, 2<<20+32+3*32); err != nil {
		t.Fatal(err)
	}
	wantID := []byte{0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47, 0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f}
	if !bytes.Equal(entry[:16], wantID) || binary.LittleEndian.Uint32(entry[16:]) != 64<<10+32 {
		t.Fatalf("metadata entry 3 is not the logical sector size item at 64 KiB+32")
	}
	if _, err := f.WriteAt([]byte{0, 2, 0, 0}, 2<<20+64<<10+32); err != nil {
		t.Fatal(err)
	}
}

package engine

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/vdisk"
)

// viewCounter is a source image whose View is counted, and refused
// (ErrNoView) or failed for the blocks the test says.
type viewCounter struct {
	vdisk.Image
	views  atomic.Int64
	refuse func(off int64) bool
	fail   error
}

func (c *viewCounter) View(off, n int64, f func(p []byte)) error {
	if c.fail != nil {
		return c.fail
	}
	if c.refuse != nil && c.refuse(off) {
		return vdisk.ErrNoView
	}
	c.views.Add(1)
	return c.Image.(vdisk.Viewer).View(off, n, f)
}

// TestDeltaThroughViews: a delta sync between raw images hashes the
// blocks where the images lend them (memory maps) and writes exactly the
// differing blocks; qemu-img finds the target equal to the source, and a
// rollback gives back the original target. A source that cannot lend
// some blocks has them read instead, with the same result; one whose
// view fails fails the sync.
func TestDeltaThroughViews(t *testing.T) {
	testenv.QemuImg(t)
	const size, bs = 40 << 20, 1 << 20
	for _, tc := range []struct {
		name   string
		refuse func(off int64) bool
	}{
		{"every block viewed", nil},
		{"odd blocks read", func(off int64) bool { return off/bs%2 == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			dir := t.TempDir()
			srcPath, dstPath, origPath := filepath.Join(dir, "src.raw"), filepath.Join(dir, "dst.raw"), filepath.Join(dir, "orig.raw")
			base := randBytes(rng, size)
			src := createImage(t, srcPath, vdisk.CreateOptions{Format: vdisk.Raw}, size)
			dst := createImage(t, dstPath, vdisk.CreateOptions{Format: vdisk.Raw}, size)
			orig := createImage(t, origPath, vdisk.CreateOptions{Format: vdisk.Raw}, size)
			writeImage(t, src, base, 0)
			writeImage(t, dst, base, 0)
			writeImage(t, orig, base, 0)
			changed := map[int64]bool{}
			for _, b := range []int64{0, 3, 4, 17, 39} {
				writeImage(t, src, randBytes(rng, bs), b*bs)
				changed[b] = true
			}
			writeImage(t, src, make([]byte, bs), 21*bs) // zeros over data
			changed[21] = true
			writeImage(t, dst, bytes.Repeat([]byte{1}, 4096), 30*bs+5) // a few bytes only
			writeImage(t, orig, bytes.Repeat([]byte{1}, 4096), 30*bs+5)
			changed[30] = true
			orig.Close()

			vs := &viewCounter{Image: src, refuse: tc.refuse}
			st, err := Sync(bg, ImageSource(vs), ImageTarget(dst), Options{Mode: Delta, JournalDir: filepath.Join(dir, "j"), Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if st.BlocksDiffered != int64(len(changed)) {
				t.Fatalf("%d blocks differed, want %d", st.BlocksDiffered, len(changed))
			}
			want := int64(size / bs)
			if tc.refuse != nil {
				want /= 2
			}
			if n := vs.views.Load(); n < want {
				t.Fatalf("%d source views, want at least %d (one per block lent)", n, want)
			}
			src.Close()
			dst.Close()
			qemuCompare(t, srcPath, vdisk.Raw, dstPath, vdisk.Raw)
			dst = openImage(t, dstPath)
			if _, err := Rollback(bg, filepath.Join(dir, "j"), ImageTarget(dst), RollbackOptions{}); err != nil {
				t.Fatal(err)
			}
			dst.Close()
			qemuCompare(t, origPath, vdisk.Raw, dstPath, vdisk.Raw)
		})
	}
	t.Run("a failed view fails the sync", func(t *testing.T) {
		dir := t.TempDir()
		src := createImage(t, filepath.Join(dir, "src.raw"), vdisk.CreateOptions{Format: vdisk.Raw}, 4<<20)
		dst := createImage(t, filepath.Join(dir, "dst.raw"), vdisk.CreateOptions{Format: vdisk.Raw}, 4<<20)
		writeImage(t, src, bytes.Repeat([]byte{7}, 4<<20), 0)
		vs := &viewCounter{Image: src, fail: errors.New("disk on fire")}
		_, err := Sync(bg, ImageSource(vs), ImageTarget(dst), Options{Mode: Delta, NoJournal: true})
		if err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("sync over a failing view: %v, want its error", err)
		}
	})
}

//go:build linux

package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/failback/failback/vdisk"
)

// The kill tests run syncs and rollbacks in a child process (this test
// binary, re-executed with FAILBACK_ENGINE_CHILD set) on raw image files,
// SIGKILL it at random moments, and check what a resume or a rollback in
// the parent makes of what it left.

const childEnv = "FAILBACK_ENGINE_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	os.Exit(m.Run())
}

// runChild is the child's main: a sync, or a slow rollback.
func runChild(role string) int {
	env := func(k string) string { return os.Getenv("FB_" + k) }
	num := func(k string) int64 { n, _ := strconv.ParseInt(env(k), 10, 64); return n }
	dst, err := vdisk.Open(env("DST"), vdisk.OpenOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer dst.Close()
	switch role {
	case "sync":
		src, err := vdisk.Open(env("SRC"), vdisk.OpenOptions{ReadOnly: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		defer src.Close()
		st, err := Sync(bg, ImageSource(src), ImageTarget(dst), killOptions(env("JOURNAL"), Mode(env("MODE")), num("BS"), num("RATE")))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		json.NewEncoder(os.Stdout).Encode(st)
	case "rollback":
		t := &delayTarget{Target: ImageTarget(dst), delay: time.Duration(num("DELAY"))}
		if _, err := Rollback(bg, env("JOURNAL"), t, RollbackOptions{TargetID: "dst"}); err != nil && !errors.Is(err, ErrNoJournal) {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func killOptions(dir string, mode Mode, bs, rate int64) Options {
	return Options{Mode: mode, BlockSize: bs, Threads: 3, JournalDir: dir, SourceID: "src", TargetID: "dst",
		BandwidthLimit: rate, CheckpointInterval: 15 * time.Millisecond}
}

// delayTarget slows writes (and so a rollback) down.
type delayTarget struct {
	Target
	delay time.Duration
}

func (d *delayTarget) WriteAt(ctx context.Context, p []byte, off int64) error {
	time.Sleep(d.delay)
	return d.Target.WriteAt(ctx, p, off)
}

// killImages is the disk pair of the kill tests: a raw target with holes,
// and a raw source that differs in about half its blocks, including zero
// blocks and a short tail block.
type killImages struct {
	dir        string
	size, bs   int64
	orig, want []byte
	origHoles  []Extent
	srcPath    string
}

func newKillImages(t *testing.T, seed uint64) *killImages {
	const bs = 64 << 10
	k := &killImages{dir: t.TempDir(), size: 8<<20 + 4<<10, bs: bs}
	rng := rand.New(rand.NewPCG(seed, 9))
	k.orig = make([]byte, k.size)
	k.want = make([]byte, k.size)
	for off := int64(0); off < k.size; off += bs {
		end := min(off+bs, k.size)
		switch rng.IntN(4) {
		case 0: // hole in the target
			k.origHoles = append(k.origHoles, Extent{Off: off, Len: end - off})
		default:
			copy(k.orig[off:end], randBytes(rng, end-off))
		}
		switch rng.IntN(5) {
		case 0: // same as the target
			copy(k.want[off:end], k.orig[off:end])
		case 1: // zero in the source
		default:
			copy(k.want[off:end], randBytes(rng, end-off))
		}
	}
	k.srcPath = filepath.Join(k.dir, "src.raw")
	writeRaw(t, k.srcPath, k.want, nil)
	return k
}

// writeRaw creates an image holding p (raw, or the format its name says),
// with holes where asked.
func writeRaw(t *testing.T, path string, p []byte, holes []Extent) {
	t.Helper()
	o := vdisk.CreateOptions{Size: int64(len(p))}
	if filepath.Ext(path) == ".vhdx" {
		o.BlockSize = 1 << 20
	}
	img, err := vdisk.Create(path, o)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	cur := newCursor(holes)
	for off := int64(0); off < int64(len(p)); off += 4 << 10 {
		end := min(off+4<<10, int64(len(p)))
		if cur.any(off, end) {
			continue
		}
		if _, err := img.WriteAt(p[off:end], off); err != nil {
			t.Fatal(err)
		}
	}
}

func readImage(t *testing.T, path string) []byte {
	t.Helper()
	img, err := vdisk.Open(path, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	p := make([]byte, img.Size())
	if _, err := img.ReadAt(p, 0); err != nil {
		t.Fatal(err)
	}
	return p
}

// child starts the test binary as a child doing role.
func child(t *testing.T, role string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + role}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// killAfter SIGKILLs cmd after d (or lets it finish first) and reports
// whether it was killed.
func killAfter(t *testing.T, cmd *exec.Cmd, d time.Duration) bool {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child failed on its own: %v: %s", err, cmd.Stderr)
		}
		return false
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return true
	}
}

func killIterations() int {
	if !testing.Short() && os.Getenv("FAILBACK_STRESS") != "" {
		return 40
	}
	return 6
}

// TestKillSyncThenResumeOrRollback SIGKILLs syncs (delta and full) one to
// three times at random points, then either resumes, which must finish
// the copy without looking at the blocks the journal calls finished and
// transfer only blocks that still differ, then roll back; or rolls back
// directly. Every rollback must give the original target byte for byte:
// the undo journal kept the original bytes across resumes.
func TestKillSyncThenResumeOrRollback(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for i := range killIterations() {
		seed := rng.Uint64()
		k := newKillImages(t, seed)
		mode := []Mode{Delta, Full}[i%2]
		ext := "raw"
		if i%3 == 1 { // the product's usual target: its BAT goes through the log
			ext = "vhdx"
		}
		dst := filepath.Join(k.dir, fmt.Sprintf("dst%d.%s", i, ext))
		writeRaw(t, dst, k.orig, k.origHoles)
		jdir := filepath.Join(k.dir, fmt.Sprintf("journal%d", i))
		env := []string{"FB_SRC=" + k.srcPath, "FB_DST=" + dst, "FB_JOURNAL=" + jdir, "FB_MODE=" + string(mode),
			"FB_BS=" + strconv.FormatInt(k.bs, 10), "FB_RATE=" + strconv.Itoa(16<<20)}
		kills := 1 + rng.IntN(3)
		for range kills {
			killAfter(t, child(t, "sync", env...), time.Duration(rng.Int64N(int64(500*time.Millisecond)/int64(kills))))
		}
		name := fmt.Sprintf("iteration %d (seed %d, %s onto %s, %d kills)", i, seed, mode, ext, kills)
		if i%3 != 2 {
			checkResume(t, name, k, dst, jdir, mode)
		}
		// Sometimes interrupt the rollback too.
		if i%2 == 0 && exists(jdir) {
			killAfter(t, child(t, "rollback", env[1:]...), time.Duration(rng.Int64N(int64(60*time.Millisecond))))
			killAfter(t, child(t, "rollback", append(env[1:], "FB_DELAY=2000000")...), time.Duration(rng.Int64N(int64(80*time.Millisecond))))
		}
		rollbackImage(t, name, dst, jdir)
		if !bytes.Equal(readImage(t, dst), k.orig) {
			t.Fatalf("%s: rollback did not restore the original target", name)
		}
	}
}

// checkResume finishes the job in this process and checks the resume
// redid nothing the journal called finished.
func checkResume(t *testing.T, name string, k *killImages, dst, jdir string, mode Mode) {
	t.Helper()
	info, err := ReadJournal(jdir)
	if err != nil {
		info = JournalInfo{} // killed before the journal existed
	}
	nblocks := (k.size + k.bs - 1) / k.bs
	wm := info.Watermark
	tornWrite(t, dst, jdir, wm, k.bs)
	cur := readImage(t, dst)
	if !bytes.Equal(cur[:min(wm*k.bs, k.size)], k.want[:min(wm*k.bs, k.size)]) {
		t.Fatalf("%s: the journal calls blocks below %d finished, but the target differs there", name, wm)
	}
	stillDiffer, _ := diffBlocks(cur[min(wm*k.bs, k.size):], k.want[min(wm*k.bs, k.size):], k.bs)
	img, err := vdisk.Open(dst, vdisk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := vdisk.Open(k.srcPath, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	o := killOptions(jdir, mode, k.bs, 0)
	o.Verify = true
	st, err := Sync(bg, ImageSource(src), ImageTarget(img), o)
	src.Close()
	if cerr := img.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("%s: resume: %v", name, err)
	}
	if st.ResumedBlocks != wm || st.BlocksChecked != nblocks-wm {
		t.Fatalf("%s: journal watermark %d, but the resume skipped %d and checked %d of %d blocks", name, wm, st.ResumedBlocks, st.BlocksChecked, nblocks)
	}
	if st.BlocksDiffered != int64(len(stillDiffer)) {
		t.Fatalf("%s: resume transferred %d blocks; %d still differed", name, st.BlocksDiffered, len(stillDiffer))
	}
	t.Logf("%s: watermark %d/%d, %d undo records; resume transferred %d blocks", name, wm, nblocks, info.UndoRecords, st.BlocksDiffered)
	if !bytes.Equal(readImage(t, dst), k.want) {
		t.Fatalf("%s: resumed target differs from the source", name)
	}
}

// tornWrite simulates a power cut in the middle of an overwrite: the first
// block past the watermark that has an undo record gets half new, half
// garbage bytes. A resume must not save those as the block's original.
func tornWrite(t *testing.T, dst, jdir string, wm, bs int64) {
	t.Helper()
	f, err := os.Open(filepath.Join(jdir, undoName))
	if err != nil {
		return
	}
	defer f.Close()
	h, off, err := readHeader(f, undoMagic)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	victim := int64(-1)
	scanUndo(f, fi.Size(), off, h, false, func(it undoItem) error {
		if !it.bad && it.rec.block >= wm && victim < 0 {
			victim = it.rec.block
		}
		return nil
	})
	if victim < 0 {
		return
	}
	img, err := vdisk.Open(dst, vdisk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if _, err := img.WriteAt(bytes.Repeat([]byte{0xa5}, int(bs/2)), victim*bs); err != nil {
		t.Fatal(err)
	}
}

func rollbackImage(t *testing.T, name, dst, jdir string) {
	t.Helper()
	img, err := vdisk.Open(dst, vdisk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if _, err := Rollback(bg, jdir, ImageTarget(img), RollbackOptions{TargetID: "dst"}); err != nil && !errors.Is(err, ErrNoJournal) {
		t.Fatalf("%s: rollback: %v", name, err)
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/vdisk"
)

// syncCLI runs failback under ctx and returns stdout, stderr, exit code.
func syncCLI(ctx context.Context, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := Main(ctx, args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// syncPair writes a source image and a target image (formats by file
// extension) that differ in the given 1 MiB blocks, and returns the
// paths and both contents.
func syncPair(t *testing.T, size int64, dstName string, differ []int64) (src, dst string, srcData, dstData []byte) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(size), 3))
	srcData = make([]byte, size)
	for i := range srcData {
		srcData[i] = byte(rng.Uint32())
	}
	dstData = bytes.Clone(srcData)
	for _, b := range differ {
		dstData[b<<20+17] ^= 0x5a
	}
	src, dst = filepath.Join(dir, "src.raw"), filepath.Join(dir, dstName)
	writeImageFile(t, src, srcData)
	writeImageFile(t, dst, dstData)
	return src, dst, srcData, dstData
}

func writeImageFile(t *testing.T, path string, p []byte) {
	t.Helper()
	img, err := vdisk.Create(path, vdisk.CreateOptions{Size: int64(len(p))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.WriteAt(p, 0); err != nil {
		t.Fatal(err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
}

func readImageFile(t *testing.T, path string) []byte {
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

// TestSyncCommandDeltaJSON: a delta sync onto a VHDX reports, as one JSON
// object, exactly the differing blocks, leaves the target equal to the
// source, and removes its journal.
func TestSyncCommandDeltaJSON(t *testing.T) {
	src, dst, srcData, _ := syncPair(t, 16<<20, "dst.vhdx", []int64{0, 5, 15})
	out, errOut, code := syncCLI(context.Background(), "sync", src, dst, "--json", "--verify", "--threads", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep syncReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	if rep.BlocksDiffered != 3 || rep.BytesTransferred != 3<<20 || !rep.Verified || rep.Blocks != 16 {
		t.Fatalf("report %+v", rep)
	}
	if !bytes.Equal(readImageFile(t, dst), srcData) {
		t.Fatal("target differs from source")
	}
	if _, err := os.Stat(dst + journalSuffix); !os.IsNotExist(err) {
		t.Fatal("journal left after a successful sync without --keep-journal")
	}
}

// TestSyncCommandRollback: with --keep-journal the sync can be undone;
// --rollback restores the original target.
func TestSyncCommandRollback(t *testing.T) {
	src, dst, _, dstData := syncPair(t, 8<<20, "dst.raw", []int64{1, 2, 7})
	jdir := filepath.Join(t.TempDir(), "undo")
	out, errOut, code := syncCLI(context.Background(), "sync", src, dst, "--mode", "full", "--keep-journal", "--journal-dir", jdir, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "3 of 8 blocks differed") || !strings.Contains(out, "--rollback "+jdir) {
		t.Fatalf("summary: %s", out)
	}
	// Running the sync again over a kept, finished journal would do
	// nothing: it is refused with the two ways out.
	_, errOut, code = syncCLI(context.Background(), "sync", src, dst, "--journal-dir", jdir, "--quiet")
	if code != 1 || !strings.Contains(errOut, "finished sync") {
		t.Fatalf("sync over a finished journal: exit %d: %s", code, errOut)
	}
	out, errOut, code = syncCLI(context.Background(), "sync", "--rollback", jdir, dst, "--json")
	if code != 0 || strings.Contains(errOut, "differed") {
		t.Fatalf("rollback exit %d (its progress must not read like a sync's): %s", code, errOut)
	}
	var rep rollbackReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Blocks != 3 {
		t.Fatalf("rollback report %q: %v", out, err)
	}
	if !bytes.Equal(readImageFile(t, dst), dstData) {
		t.Fatal("rollback did not restore the original")
	}
	// The journal went with the rollback: a second one has nothing to
	// undo, and must not advise running it again.
	_, errOut, code = syncCLI(context.Background(), "sync", "--rollback", jdir, dst)
	if code != 1 || !strings.Contains(errOut, "holds no undo journal, so there is nothing to undo") || strings.Contains(errOut, "run the same command again") {
		t.Fatalf("second rollback: exit %d: %s", code, errOut)
	}
}

// TestSyncCommandUndoDir: --undo-dir DIR (the name) keeps the
// journal in DIR, and --rollback DIR undoes the sync.
func TestSyncCommandUndoDir(t *testing.T) {
	src, dst, srcData, dstData := syncPair(t, 4<<20, "dst.vhdx", []int64{0, 3})
	undo := filepath.Join(t.TempDir(), "undo")
	out, errOut, code := syncCLI(context.Background(), "sync", "--quiet", "--undo-dir", undo, src, dst)
	if code != 0 || !strings.Contains(out, "--rollback "+undo) {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !bytes.Equal(readImageFile(t, dst), srcData) {
		t.Fatal("the sync did not copy")
	}
	if _, errOut, code := syncCLI(context.Background(), "sync", "--quiet", "--rollback", undo, dst); code != 0 {
		t.Fatalf("rollback: exit %d: %s", code, errOut)
	}
	if !bytes.Equal(readImageFile(t, dst), dstData) {
		t.Fatal("the rollback did not restore the target")
	}
	for _, args := range [][]string{{"--undo-dir", undo, "--no-journal"}, {"--undo-dir", undo, "--journal-dir", undo + "2"}} {
		if _, errOut, code := syncCLI(context.Background(), append([]string{"sync", src, dst}, args...)...); code != 2 {
			t.Errorf("sync %v: exit %d: %s", args, code, errOut)
		}
	}
}

// TestSyncCommandInterruptedThenResumed: an interrupted sync says how to
// resume or undo; running the same command again resumes and finishes.
// Progress goes to stderr as plain lines when it is not a terminal.
func TestSyncCommandInterruptedThenResumed(t *testing.T) {
	src, dst, srcData, _ := syncPair(t, 16<<20, "dst.raw", []int64{0, 3, 9, 12, 15})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	_, errOut, code := syncCLI(ctx, "sync", src, dst, "--bwlimit", "16M", "--threads", "1")
	if code != 1 || !strings.Contains(errOut, "run the same command again") || !strings.Contains(errOut, "failback sync --rollback") {
		t.Fatalf("interrupted: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "compare") || strings.Contains(errOut, "\r") {
		t.Fatalf("expected plain progress lines on stderr: %q", errOut)
	}
	// Another job on the same journal is refused without claiming to
	// resume, and says what to do instead of "run the same command again".
	_, errOut, code = syncCLI(context.Background(), "sync", src, dst, "--block-size", "2M")
	if code != 1 || strings.Contains(errOut, "resuming") || strings.Contains(errOut, "same command again") ||
		!strings.Contains(errOut, "Nothing was written") || !strings.Contains(errOut, "failback sync --rollback "+dst+journalSuffix+" "+dst) {
		t.Fatalf("other job: exit %d: %s", code, errOut)
	}
	out, errOut, code := syncCLI(context.Background(), "sync", src, dst)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "resuming") || !strings.Contains(out, "resumed") {
		t.Fatalf("resume not reported:\n%s\n%s", errOut, out)
	}
	if !bytes.Equal(readImageFile(t, dst), srcData) {
		t.Fatal("resumed target differs from source")
	}
}

// TestSyncCommandRefusals: mistakes are refused before anything is
// written, with what to do next.
func TestSyncCommandRefusals(t *testing.T) {
	src, dst, _, dstData := syncPair(t, 2<<20, "dst.raw", nil)
	dir := filepath.Dir(dst)
	small := filepath.Join(dir, "small.raw")
	writeImageFile(t, small, make([]byte, 1<<20))
	link := filepath.Join(dir, "link.raw")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{src, filepath.Join(dir, "missing.vhdx")}, 1, "failback image create --size 2097152 "},
		{[]string{src, small}, 1, "sizes differ"},
		{[]string{src, src}, 2, "same file"},
		{[]string{src, link}, 2, "same file"},
		{[]string{src, dst, "--mode", "fast"}, 2, "unknown sync mode"},
		{[]string{src, dst, "--block-size", "3K"}, 1, "power of two"},
		{[]string{src, dst, "--no-journal", "--keep-journal"}, 2, "cannot be combined"},
		{[]string{src}, 2, "SRC and DST"},
	} {
		_, errOut, code := syncCLI(context.Background(), append([]string{"sync"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("sync %v: exit %d, stderr %q; want exit %d with %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	if !bytes.Equal(readImageFile(t, dst), dstData) {
		t.Fatal("a refused sync changed the target")
	}
	if _, err := os.Stat(small + journalSuffix); !os.IsNotExist(err) {
		t.Fatal("a refused sync left a journal")
	}
}

// TestProgressLine: the line shows phase, percent, rate, ETA and what
// differed.
func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b, true)
	p.print(progressSample())
	p.end()
	got := b.String()
	for _, want := range []string{"\r\033[K", "compare", "50.0%", "1.0 GiB of 2.0 GiB", "512 MiB/s", "ETA 2s", "differed 3 blocks (3.0 MiB)"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress %q lacks %q", got, want)
		}
	}
	if !strings.HasSuffix(got, "\n") {
		t.Error("end did not finish the line")
	}
}

func progressSample() engine.Progress {
	return engine.Progress{Phase: engine.PhaseCompare, Counters: engine.Counters{BlocksDiffered: 3, BytesTransferred: 3 << 20},
		Done: 1 << 30, Total: 2 << 30, Percent: 50, Rate: 512 << 20, ETA: 2 * time.Second}
}

// TestSyncHintForSourceNotWholeSectors: a source that is not whole
// 512-byte sectors (a raw file of any size) can only go to a raw image;
// the hint names one, and following it works.
func TestSyncHintForSourceNotWholeSectors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "odd.raw")
	data := bytes.Repeat([]byte("failback"), 375) // 3000 bytes
	writeImageFile(t, src, data)
	_, errOut, code := syncCLI(context.Background(), "sync", src, filepath.Join(dir, "dst.vhdx"))
	hint := "failback image create --size 3000 " + filepath.Join(dir, "dst.raw")
	if code != 1 || !strings.Contains(errOut, "only a raw image") || !strings.Contains(errOut, hint) {
		t.Fatalf("exit %d, stderr %q; want the hint %q", code, errOut, hint)
	}
	args := strings.Fields(strings.TrimPrefix(hint, "failback "))
	if _, errOut, code := syncCLI(context.Background(), args...); code != 0 {
		t.Fatalf("following the hint: exit %d: %s", code, errOut)
	}
	if _, errOut, code := syncCLI(context.Background(), "sync", "--quiet", src, filepath.Join(dir, "dst.raw")); code != 0 {
		t.Fatalf("sync onto the raw image: exit %d: %s", code, errOut)
	}
	if !bytes.Equal(readImageFile(t, filepath.Join(dir, "dst.raw")), data) {
		t.Fatal("the raw target does not hold the source")
	}
}

// TestSyncJournalDirCannotBeCreated: when the journal directory cannot be
// made, the error says nothing was written and how to choose another.
func TestSyncJournalDirCannotBeCreated(t *testing.T) {
	src, dst, _, dstData := syncPair(t, 2<<20, "dst.raw", []int64{1})
	file := filepath.Join(filepath.Dir(dst), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := syncCLI(context.Background(), "sync", src, dst, "--journal-dir", filepath.Join(file, "j"))
	if code != 1 || !strings.Contains(errOut, "Nothing was written") || !strings.Contains(errOut, "--journal-dir DIR") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, "0 B of 0 B") {
		t.Fatalf("stderr shows an empty progress line: %q", errOut)
	}
	if !bytes.Equal(readImageFile(t, dst), dstData) {
		t.Fatal("the target changed")
	}
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

// changedPair is a target and a source that differs in every block.
func changedPair(t *testing.T, size, bs int64, seed uint64) (src, dst *enginetest.MemDisk) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	return randomDiskFull(rng, size, bs), randomDiskFull(rng, size, bs)
}

func randomDiskFull(rng *rand.Rand, size, chunk int64) *enginetest.MemDisk {
	d := enginetest.NewMemDisk(size, chunk)
	mustWrite(d, randBytes(rng, size), 0)
	return d
}

// TestCancelStopsPromptlyAndLeavesJournalsConsistent cancels a slow sync
// in the middle: Sync returns soon, the journal says how far it got, a
// resume finishes the job without redoing finished blocks, and a rollback
// restores the original.
func TestCancelStopsPromptlyAndLeavesJournalsConsistent(t *testing.T) {
	const bs, size = 4 << 10, 400 << 10 // 100 blocks at 20 ms a write: 2 s per thread
	src, mem := changedPair(t, size, bs, 1)
	orig := mem.Bytes()
	dst := &slowTarget{MemDisk: mem, delay: 20 * time.Millisecond}
	dir := filepath.Join(t.TempDir(), "j")
	o := Options{BlockSize: bs, Threads: 2, JournalDir: dir, CheckpointInterval: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(bg)
	go func() {
		for dst.writes.Load() < 10 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	st, err := Sync(ctx, src, dst, o)
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if took > time.Second {
		t.Fatalf("cancelled sync took %v to return", took)
	}
	info, err := ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Finished || info.Watermark == 0 || info.Watermark > st.BlocksDiffered+1 {
		t.Fatalf("journal after cancel: %+v, sync stats %+v", info, st)
	}
	if info.UndoRecords < st.BlocksDiffered {
		t.Fatalf("%d blocks written but only %d undo records", st.BlocksDiffered, info.UndoRecords)
	}
	// Resume: the finished blocks are not looked at again.
	dst.delay = 0
	st2, err := Sync(bg, src, dst, o)
	if err != nil {
		t.Fatal(err)
	}
	if !st2.Resumed || st2.ResumedBlocks != info.Watermark || st2.BlocksChecked != size/bs-info.Watermark {
		t.Fatalf("resume: %+v after journal %+v", st2, info)
	}
	if !bytes.Equal(mem.Bytes(), src.Bytes()) {
		t.Fatal("resumed sync did not finish the copy")
	}
	if _, err := Rollback(bg, dir, dst, RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mem.Bytes(), orig) {
		t.Fatal("rollback after cancel and resume did not restore the original target")
	}
}

// TestVerifyCatchesLyingTarget: a target that acknowledges a write it
// dropped fails verification.
func TestVerifyCatchesLyingTarget(t *testing.T) {
	const bs = 4 << 10
	src, mem := changedPair(t, 64<<10, bs, 2)
	dst := &lyingTarget{MemDisk: mem, drop: 3 * bs}
	_, err := Sync(bg, src, dst, Options{BlockSize: bs, NoJournal: true, Verify: true})
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("err %v, want ErrMismatch", err)
	}
	// Without Verify the lie goes unnoticed: the check is what catches it.
	mem2 := mem.Clone()
	if _, err := Sync(bg, src, &lyingTarget{MemDisk: mem2, drop: 5 * bs}, Options{BlockSize: bs, NoJournal: true}); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyCatchesChangingSource: a source whose block changes after the
// sync read it fails verification, as does Verify on its own.
func TestVerifyCatchesChangingSource(t *testing.T) {
	const bs = 4 << 10
	s, dst := changedPair(t, 64<<10, bs, 3)
	src := &changingSource{MemDisk: s, at: 7 * bs}
	_, err := Sync(bg, src, dst, Options{BlockSize: bs, NoJournal: true, Verify: true})
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("err %v, want ErrMismatch", err)
	}
	if _, err := Verify(bg, s, dst, VerifyOptions{BlockSize: bs}); err != nil {
		t.Fatalf("unchanged source: %v", err)
	}
	mustWrite(dst, []byte{9}, 60<<10)
	if _, err := Verify(bg, s, dst, VerifyOptions{BlockSize: bs}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify of a changed target: %v", err)
	}
}

// TestResumeRefusesOtherJob: a journal left by one job refuses a sync with
// other options, and a rollback onto another target.
func TestResumeRefusesOtherJob(t *testing.T) {
	const bs = 4 << 10
	src, dst := changedPair(t, 64<<10, bs, 4)
	dir := filepath.Join(t.TempDir(), "j")
	o := Options{BlockSize: bs, JournalDir: dir, SourceID: "snap1", TargetID: "disk.vhdx"}
	if _, err := Sync(bg, src, dst, o); err != nil {
		t.Fatal(err)
	}
	for _, other := range []Options{
		{Mode: Full, BlockSize: bs, SourceID: "snap1", TargetID: "disk.vhdx"},
		{BlockSize: 2 * bs, SourceID: "snap1", TargetID: "disk.vhdx"},
		{BlockSize: bs, SourceID: "snap2", TargetID: "disk.vhdx"},
		{BlockSize: bs, SourceID: "snap1", TargetID: "other.vhdx"},
	} {
		other.JournalDir = dir
		if _, err := Sync(bg, src, dst, other); !errors.Is(err, ErrJobMismatch) {
			t.Errorf("options %+v: err %v, want ErrJobMismatch", other, err)
		}
	}
	if _, err := Rollback(bg, dir, dst, RollbackOptions{TargetID: "other.vhdx"}); !errors.Is(err, ErrWrongTarget) {
		t.Fatalf("rollback onto another target: %v", err)
	}
	// The same job again is a finished resume: nothing to do.
	st, err := Sync(bg, src, dst, o)
	if err != nil || st.BlocksChecked != 0 || st.ResumedBlocks != st.Blocks {
		t.Fatalf("rerun of a finished job: %+v %v", st, err)
	}
	if err := DiscardJournal(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("discard left the directory")
	}
	if _, err := Rollback(bg, dir, dst, RollbackOptions{TargetID: "disk.vhdx"}); !errors.Is(err, ErrNoJournal) {
		t.Fatalf("rollback after discard: %v", err)
	}
}

// TestTornJournalTails: garbage after the last valid record of both
// journals (a crash in the middle of an append) is ignored and dropped;
// resume and rollback still give the right disks.
func TestTornJournalTails(t *testing.T) {
	const bs = 4 << 10
	src, mem := changedPair(t, 128<<10, bs, 5)
	orig := mem.Bytes()
	dst := &slowTarget{MemDisk: mem, delay: 5 * time.Millisecond}
	dir := filepath.Join(t.TempDir(), "j")
	o := Options{BlockSize: bs, Threads: 1, JournalDir: dir, CheckpointInterval: time.Millisecond}
	ctx, cancel := context.WithCancel(bg)
	go func() {
		for dst.writes.Load() < 8 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := Sync(ctx, src, dst, o); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	before, err := ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A torn undo record: a valid header whose data is cut short.
	appendFile(t, filepath.Join(dir, undoName), append(tornRecord(t, dir, 20), 1, 2, 3))
	appendFile(t, filepath.Join(dir, resumeName), []byte("torn"))
	after, err := ReadJournal(dir)
	if err != nil || after.UndoRecords != before.UndoRecords || after.Watermark != before.Watermark {
		t.Fatalf("torn tails changed the journal's meaning: %+v -> %+v (%v)", before, after, err)
	}
	dst.delay = 0
	if _, err := Sync(bg, src, dst, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mem.Bytes(), src.Bytes()) {
		t.Fatal("resume after torn tails: wrong target")
	}
	if _, err := Rollback(bg, dir, dst, RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mem.Bytes(), orig) {
		t.Fatal("rollback after torn tails: not the original")
	}
}

// tornRecord is the header of a data record for block that would come
// after every record of the journal in dir, with none of its data.
func tornRecord(t *testing.T, dir string, block int64) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, undoName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, _, err := readHeader(f, undoMagic)
	if err != nil {
		t.Fatal(err)
	}
	hdr := encodeRecHeader(h.seed(), recData, 1<<40, 0, block, block+1, 0, int(h.blockLen(block)))
	return hdr[:]
}

func appendFile(t *testing.T, path string, p []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(p); err != nil {
		t.Fatal(err)
	}
}

// TestRollbackInterruptedIsFinishedByRerun: a rollback cancelled in the
// middle blocks resume and discard, and a second rollback restores.
func TestRollbackInterruptedIsFinishedByRerun(t *testing.T) {
	const bs = 4 << 10
	src, mem := changedPair(t, 128<<10, bs, 6)
	orig := mem.Bytes()
	dir := filepath.Join(t.TempDir(), "j")
	o := Options{BlockSize: bs, JournalDir: dir}
	if _, err := Sync(bg, src, mem, o); err != nil {
		t.Fatal(err)
	}
	slow := &slowTarget{MemDisk: mem, delay: 5 * time.Millisecond}
	ctx, cancel := context.WithCancel(bg)
	go func() {
		for slow.writes.Load() < 5 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := Rollback(ctx, dir, slow, RollbackOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled rollback: %v", err)
	}
	if _, err := Sync(bg, src, mem, o); !errors.Is(err, ErrRollbackPending) {
		t.Fatalf("sync during a rollback: %v", err)
	}
	if err := DiscardJournal(dir); !errors.Is(err, ErrRollbackPending) {
		t.Fatalf("discard during a rollback: %v", err)
	}
	if info, err := ReadJournal(dir); err != nil || !info.RollingBack {
		t.Fatalf("journal: %+v %v", info, err)
	}
	var last Progress
	st, err := Rollback(bg, dir, mem, RollbackOptions{Progress: func(p Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if last.Phase != PhaseDone || last.Percent != 100 || last.BlocksChecked != 32 {
		t.Fatalf("last rollback progress %+v", last)
	}
	if !bytes.Equal(mem.Bytes(), orig) || st.Blocks != 32 {
		t.Fatalf("second rollback: %+v, restored=%v", st, bytes.Equal(mem.Bytes(), orig))
	}
}

// TestProgressEvents: the sampler reports during the sync, rates and
// percentages make sense, and the last event says done at 100%.
func TestProgressEvents(t *testing.T) {
	const bs = 4 << 10
	src, mem := changedPair(t, 256<<10, bs, 8)
	dst := &slowTarget{MemDisk: mem, delay: 2 * time.Millisecond}
	var events []Progress
	o := Options{BlockSize: bs, Threads: 1, NoJournal: true, Verify: true, ProgressInterval: 10 * time.Millisecond,
		Progress: func(p Progress) { events = append(events, p) }}
	if _, err := Sync(bg, src, dst, o); err != nil {
		t.Fatal(err)
	}
	if len(events) < 5 {
		t.Fatalf("only %d progress events", len(events))
	}
	last := events[len(events)-1]
	if last.Phase != PhaseDone || last.Percent != 100 || last.BytesTransferred != 256<<10 {
		t.Fatalf("last event %+v", last)
	}
	var sawRate, sawETA, sawCompare bool
	for _, e := range events[:len(events)-1] {
		sawRate = sawRate || e.Rate > 0
		sawETA = sawETA || e.ETA > 0
		sawCompare = sawCompare || e.Phase == PhaseCompare
		if e.Percent < 0 || e.Percent > 100 {
			t.Fatalf("percent %v", e.Percent)
		}
	}
	if !sawRate || !sawETA || !sawCompare {
		t.Fatalf("no rate (%v), ETA (%v) or compare phase (%v) seen", sawRate, sawETA, sawCompare)
	}
}

// TestRollbackProgressCountsZeroRangeRecords: the rollback phase's total
// is the journal's size, so every record must count its whole size (a
// zero-range record carries 8 bytes) for the last event to say 100%.
func TestRollbackProgressCountsZeroRangeRecords(t *testing.T) {
	const bs = 4 << 10
	src, dst := enginetest.NewMemDisk(16*bs, bs), enginetest.NewMemDisk(16*bs, bs)
	mustWrite(src, bytes.Repeat([]byte{7}, 3*bs), 5*bs)
	dir := filepath.Join(t.TempDir(), "j")
	if _, err := Sync(bg, src, dst, Options{BlockSize: bs, JournalDir: dir}); err != nil {
		t.Fatal(err)
	}
	var last Progress
	if _, err := Rollback(bg, dir, dst, RollbackOptions{Progress: func(p Progress) { last = p }}); err != nil {
		t.Fatal(err)
	}
	if last.Phase != PhaseDone || last.Done != last.Total || last.Percent != 100 {
		t.Fatalf("last rollback progress: %s %d of %d (%.1f%%)", last.Phase, last.Done, last.Total, last.Percent)
	}
	if len(dst.Bytes()) != 16*bs || !isAllZero(dst.Bytes()) {
		t.Fatal("rollback did not restore the empty target")
	}
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

// Zero-range undo records across resumes: they must never cover a block
// that has its own record.

// failOnce fails the first read at one offset, as a lost connection would.
type failOnce struct {
	*enginetest.MemDisk
	at     int64
	failed bool
}

func (f *failOnce) ReadAt(ctx context.Context, p []byte, off int64) error {
	if off == f.at && !f.failed {
		f.failed = true
		return errors.New("injected read error")
	}
	return f.MemDisk.ReadAt(ctx, p, off)
}

// TestZeroRangeNeverCoversJournaledBlock: block 0 held data, was saved and
// zeroed (released) by a run that then crashed before any checkpoint; on
// resume it lies in an unallocated run with blocks 1 and 2, whose
// zero-range undo record must leave block 0 out, or a rollback would
// zero its restored bytes.
func TestZeroRangeNeverCoversJournaledBlock(t *testing.T) {
	const bs = 4 << 10
	dst := enginetest.NewMemDisk(3*bs, bs)
	old := bytes.Repeat([]byte{0xd0}, bs)
	mustWrite(dst, old, 0)
	orig := dst.Bytes()
	src := enginetest.NewMemDisk(3*bs, bs)
	mustWrite(src, bytes.Repeat([]byte{1}, bs), bs)
	mustWrite(src, bytes.Repeat([]byte{2}, bs), 2*bs)
	dir := filepath.Join(t.TempDir(), "j")
	o := Options{BlockSize: bs, Threads: 1, JournalDir: dir, CheckpointInterval: time.Hour}
	if _, err := Sync(bg, &failOnce{MemDisk: src, at: bs}, dst, o); err == nil {
		t.Fatal("injected error not reported")
	}
	if dst.AllocatedChunk(0) {
		t.Fatal("block 0 was not released")
	}
	dropCheckpoints(t, dir) // a crash before the checkpoint
	if _, err := Sync(bg, src, dst, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.Bytes(), src.Bytes()) {
		t.Fatal("resume did not finish")
	}
	// A rollback interrupted right after restoring block 0, then rerun:
	// block 0 is allocated again when the rerun starts.
	ctx, cancel := context.WithCancel(bg)
	stop := &cancelAfterWrite{MemDisk: dst, cancel: cancel}
	if _, err := Rollback(ctx, dir, stop, RollbackOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rollback: %v", err)
	}
	if _, err := Rollback(bg, dir, dst, RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.Bytes(), orig) {
		t.Fatal("rollback lost block 0's original bytes")
	}
}

// cancelAfterWrite cancels its context after the first write.
type cancelAfterWrite struct {
	*enginetest.MemDisk
	cancel context.CancelFunc
}

func (c *cancelAfterWrite) WriteAt(ctx context.Context, p []byte, off int64) error {
	err := c.MemDisk.WriteAt(ctx, p, off)
	c.cancel()
	return err
}

// TestZeroRangeNeverCoversItsOwnJournaledBlock: as above, but the block
// itself is the one needing a record on resume, because its source
// changed between the runs (a live disk under one SourceID). Its record
// from the first run already holds the original bytes; a zero-range
// record over it would make a rollback zero them again.
func TestZeroRangeNeverCoversItsOwnJournaledBlock(t *testing.T) {
	const bs = 4 << 10
	dst := enginetest.NewMemDisk(3*bs, bs)
	mustWrite(dst, bytes.Repeat([]byte{0xd0}, bs), 0)
	orig := dst.Bytes()
	src := enginetest.NewMemDisk(3*bs, bs)
	mustWrite(src, bytes.Repeat([]byte{1}, bs), bs)
	dir := filepath.Join(t.TempDir(), "j")
	o := Options{BlockSize: bs, Threads: 1, JournalDir: dir, CheckpointInterval: time.Hour}
	if _, err := Sync(bg, &failOnce{MemDisk: src, at: bs}, dst, o); err == nil {
		t.Fatal("injected error not reported")
	}
	if dst.AllocatedChunk(0) {
		t.Fatal("block 0 was not released")
	}
	dropCheckpoints(t, dir)
	mustWrite(src, bytes.Repeat([]byte{3}, bs), 0)
	if _, err := Sync(bg, src, dst, o); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(bg, dir, dst, RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.Bytes(), orig) {
		t.Fatal("rollback lost block 0's original bytes")
	}
}

// dropCheckpoints makes the resume journal look like a crash came before
// any checkpoint.
func dropCheckpoints(t *testing.T, dir string) {
	t.Helper()
	rf, err := os.OpenFile(filepath.Join(dir, resumeName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	_, hlen, err := readHeader(rf, resumeMagic)
	if err != nil {
		t.Fatal(err)
	}
	if err := rf.Truncate(hlen); err != nil {
		t.Fatal(err)
	}
}

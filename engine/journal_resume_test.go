package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

// cancelledJob leaves a journal of a sync cancelled half way, and returns
// its directory, options, and the target's original bytes.
func cancelledJob(t *testing.T, checkpoints bool) (dir string, o Options, orig []byte, src, mem *enginetest.MemDisk) {
	t.Helper()
	const bs = 4 << 10
	src, mem = changedPair(t, 256<<10, bs, 11)
	orig = mem.Bytes()
	dir = filepath.Join(t.TempDir(), "j")
	o = Options{BlockSize: bs, Threads: 2, JournalDir: dir, TargetID: damageTarget, CheckpointInterval: time.Millisecond}
	if !checkpoints {
		o.CheckpointInterval = time.Hour
	}
	dst := &slowTarget{MemDisk: mem, delay: 2 * time.Millisecond}
	ctx, cancel := context.WithCancel(bg)
	go func() {
		for dst.writes.Load() < 20 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := Sync(ctx, src, dst, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sync: %v", err)
	}
	return dir, o, orig, src, mem
}

// flipRecordData flips a byte in the data of the n-th data record of the
// undo journal in dir and returns that record's block.
func flipRecordData(t *testing.T, dir string, n int) int64 {
	t.Helper()
	path := filepath.Join(dir, undoName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, off := headerOf(t, b)
	block, i := int64(-1), 0
	_ = scanUndo(bytes.NewReader(b), int64(len(b)), off, h, false, func(it undoItem) error {
		if !it.bad && it.rec.kind == recData && block < 0 {
			if i == n {
				b[it.rec.off+recHeaderSize+7] ^= 0x40
				block = it.rec.block
			}
			i++
		}
		return nil
	})
	if block < 0 {
		t.Fatalf("no data record %d", n)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return block
}

// TestResumeRefusesDamagedJournal: a sync resumed on a journal damaged in
// the middle would drop the records after the damage (their blocks then
// journaled again with the bytes this job wrote): it is refused, naming
// the lost block, and leaves the journal as it was; a rollback then
// restores every other block.
func TestResumeRefusesDamagedJournal(t *testing.T) {
	dir, o, orig, src, dst := cancelledJob(t, true)
	block := flipRecordData(t, dir, 3)
	before, _ := os.ReadFile(filepath.Join(dir, undoName))
	_, err := Sync(bg, src, dst, o)
	var d *JournalDamage
	if !errors.As(err, &d) || len(d.Lost) != 1 || d.Lost[0].Off != block*o.BlockSize || d.RolledBack {
		t.Fatalf("resume of a damaged journal: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, undoName)); !bytes.Equal(after, before) {
		t.Fatal("the refused resume changed the undo journal")
	}
	if _, err := Rollback(bg, dir, dst, RollbackOptions{TargetID: damageTarget}); !errors.Is(err, ErrRollbackIncomplete) {
		t.Fatalf("rollback: %v", err)
	}
	if diff := differing(dst.Bytes(), orig, o.BlockSize); !equalInts(diff, []int64{block}) {
		t.Fatalf("blocks %v differ after the rollback, want only %d", diff, block)
	}
}

// TestDamageFoundWithoutCheckpoints: after a crash before any checkpoint
// the resume journal vouches for nothing, but later records say which
// were durable: a record damaged among them is damage, not a torn tail.
func TestDamageFoundWithoutCheckpoints(t *testing.T) {
	dir, _, orig, _, dst := cancelledJob(t, false)
	dropCheckpoints(t, dir)
	block := flipRecordData(t, dir, 2)
	_, err := Rollback(bg, dir, dst, RollbackOptions{TargetID: damageTarget})
	var d *JournalDamage
	if !errors.As(err, &d) || len(d.Lost) != 1 || d.Lost[0].Off != block*4<<10 {
		t.Fatalf("rollback: %v", err)
	}
	if diff := differing(dst.Bytes(), orig, 4<<10); !equalInts(diff, []int64{block}) {
		t.Fatalf("blocks %v differ after the rollback, want only %d", diff, block)
	}
}

// fullTarget fails writes after the first few, and flushes, as a full
// volume does.
type fullTarget struct {
	*enginetest.MemDisk
	writes atomic.Int64
}

func (f *fullTarget) WriteAt(ctx context.Context, p []byte, off int64) error {
	if f.writes.Add(1) > 3 {
		return &os.PathError{Op: "write", Path: "/images/disk.vhdx", Err: syscall.ENOSPC}
	}
	return f.MemDisk.WriteAt(ctx, p, off)
}

func (f *fullTarget) Flush(context.Context) error {
	return &os.PathError{Op: "fsync", Path: "/images/disk.vhdx", Err: syscall.ENOSPC}
}

// TestFullVolumeSaidOnce: a sync stopped by a full volume says so once,
// not again for the last checkpoint's flush that fails the same way; the
// rollback then restores the target.
func TestFullVolumeSaidOnce(t *testing.T) {
	const bs = 4 << 10
	src, mem := changedPair(t, 64<<10, bs, 12)
	orig := mem.Bytes()
	dir := filepath.Join(t.TempDir(), "j")
	_, err := Sync(bg, src, &fullTarget{MemDisk: mem}, Options{BlockSize: bs, Threads: 1, JournalDir: dir, CheckpointInterval: time.Hour})
	if !errors.Is(err, syscall.ENOSPC) || strings.Count(err.Error(), "no space left") != 1 {
		t.Fatalf("error: %v", err)
	}
	if _, err := Rollback(bg, dir, mem, RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mem.Bytes(), orig) {
		t.Fatal("rollback after a full volume did not restore the target")
	}
}

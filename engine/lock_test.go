package engine

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

// TestJournalDirIsLockedWhileASyncRuns: a second sync or a rollback on the
// journal directory of a running sync is refused with ErrJournalBusy
// before it touches anything; once the first ends, the directory is free.
func TestJournalDirIsLockedWhileASyncRuns(t *testing.T) {
	const bs, size = 4 << 10, 200 << 10
	src, mem := changedPair(t, size, bs, 7)
	dst := &slowTarget{MemDisk: mem, delay: 20 * time.Millisecond}
	dir := filepath.Join(t.TempDir(), "j")
	o := Options{BlockSize: bs, Threads: 1, JournalDir: dir}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { _, err := Sync(ctx, src, dst, o); done <- err }()
	for dst.writes.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	other := enginetest.NewMemDisk(size, bs)
	if _, err := Sync(bg, src, other, o); !errors.Is(err, ErrJournalBusy) {
		t.Errorf("second sync on a busy journal directory: %v, want ErrJournalBusy", err)
	}
	if _, err := Rollback(bg, dir, other, RollbackOptions{}); !errors.Is(err, ErrJournalBusy) {
		t.Errorf("rollback of a running sync: %v, want ErrJournalBusy", err)
	}
	if other.AllocatedChunk(0) {
		t.Error("a refused sync wrote to its target")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("first sync: %v", err)
	}
	if _, err := Rollback(bg, dir, dst.MemDisk, RollbackOptions{}); err != nil {
		t.Fatalf("rollback once the sync ended: %v", err)
	}
}

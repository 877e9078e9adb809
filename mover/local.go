package mover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/osfile"
	"github.com/failback/failback/vdisk"
)

// Local runs the mover's operations on images this process opens, with
// the journals in a state folder of its own: the mover on a Hyper-V host
// runs them for the calls it gets, and a driver writing through a share
// (data_path = "share") runs the same ones on the paths it mounts, with
// its own state folder. One definition of each operation, whichever side
// the bytes are on.
type Local struct {
	l    layout
	open Opener
}

// NewLocal works with the journals under stateDir (laid out as doc.go says).
func NewLocal(stateDir string) *Local { return &Local{l: layout{root: stateDir}} }

// Opener opens an image, read-only or not.
type Opener func(path string, readOnly bool) (vdisk.Image, error)

// Opening is h opening its images with open instead of vdisk.Open (a
// test failback's disk: a differencing child, opened with its parent).
func (h *Local) Opening(open Opener) *Local {
	c := *h
	c.open = open
	return &c
}

func (h *Local) image(path string, readOnly bool) (vdisk.Image, error) {
	if h.open != nil {
		return h.open(path, readOnly)
	}
	return vdisk.Open(path, vdisk.OpenOptions{ReadOnly: readOnly})
}

// PassDir is the journal folder of pass n of disk k.
func (h *Local) PassDir(k DiskKey, n int) (string, error) { return h.l.pass(k, n) }

// busyWait is how long an operation waits for a journal or disk lock that
// another writer holds: a mover whose session dropped is still stopping
// its calls (each ends at its next block), and lets go soon.
var busyWait = 30 * time.Second

// busy says err is a lock another writer holds, which ends with it.
func busy(err error) bool {
	return errors.Is(err, engine.ErrJournalBusy) || errors.Is(err, hyperv.ErrDiskInUse) && errors.Is(err, osfile.ErrLocked)
}

// retryBusy runs f again while it fails for a lock another writer holds,
// for at most busyWait.
func retryBusy[T any](ctx context.Context, f func() (T, error)) (T, error) {
	deadline := time.Now().Add(busyWait)
	for {
		v, err := f()
		if !busy(err) || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// openWrite opens an image for writing under its write lock, waiting a
// while for a writer that is stopping.
func (h *Local) openWrite(ctx context.Context, path string) (engine.Target, func(), error) {
	lk, err := retryBusy(ctx, func() (*hyperv.DiskWriteLock, error) { return hyperv.LockDiskForWrite(path) })
	if err != nil {
		return nil, nil, err
	}
	img, err := h.image(path, false)
	if err != nil {
		_ = lk.Release()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return engine.ImageTarget(img), func() {
		img.Close()
		_ = lk.Release()
	}, nil
}

// openRead opens an image read-only.
func (h *Local) openRead(path string) (engine.Source, func(), error) {
	img, err := h.image(path, true)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return engine.ImageSource(img), func() { img.Close() }, nil
}

// Sync runs pass n of disk k: src onto the image, journaled in the pass's
// folder (and the disk's sums written when o.Sums). Stats come back with
// an error too: they say how far it got.
func (h *Local) Sync(ctx context.Context, k DiskKey, n int, image string, src engine.Source, o SyncOptions, progress func(engine.Progress)) (engine.Stats, error) {
	dir, err := h.l.pass(k, n)
	if err != nil {
		return engine.Stats{}, err
	}
	if err := mkdirPrivate(filepath.Dir(dir)); err != nil {
		return engine.Stats{}, fmt.Errorf("the journal's folder: %w", err)
	}
	dst, release, err := h.openWrite(ctx, image)
	if err != nil {
		return engine.Stats{}, err
	}
	defer release()
	eo := engine.Options{Mode: o.Mode, BlockSize: o.BlockSize, Ranges: o.Ranges, Threads: o.Threads, MemoryLimit: o.MemoryLimit,
		JournalDir: dir, SourceID: o.SourceID, TargetID: o.TargetID, Verify: o.Verify, BandwidthLimit: o.BandwidthLimit, Bandwidth: o.Bandwidth, Progress: progress}
	if o.Sums {
		eo.SumsFile, _ = h.l.sums(k)
	}
	return retryBusy(ctx, func() (engine.Stats, error) { return engine.Sync(ctx, src, dst, eo) })
}

// Verify compares the image with src: o.Ranges, or the whole disk when
// o.WholeIfCheap and src computes checksums next to the data.
func (h *Local) Verify(ctx context.Context, image string, src engine.Source, o VerifyOptions, progress func(engine.Progress)) (engine.Counters, error) {
	dst, release, err := h.openWrite(ctx, image)
	if err != nil {
		return engine.Counters{}, err
	}
	defer release()
	if o.WholeIfCheap && CheapSums(src) {
		o.Ranges = nil // checksums come from next to the data: compare the whole disk
	}
	return engine.Verify(ctx, src, dst, engine.VerifyOptions{BlockSize: o.BlockSize, Threads: o.Threads, MemoryLimit: o.MemoryLimit,
		Ranges: o.Ranges, BandwidthLimit: o.BandwidthLimit, Bandwidth: o.Bandwidth, Progress: progress})
}

// Journals lists which of the passes of disk k have a journal folder.
func (h *Local) Journals(k DiskKey, passes []int) ([]int, error) {
	var out []int
	for _, n := range passes {
		dir, err := h.l.pass(k, n)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(dir); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// Rollback applies pass n's journal to the image (engine.Rollback) and
// makes it durable. A journal already applied is gone: ErrNoJournal.
func (h *Local) Rollback(ctx context.Context, k DiskKey, n int, image, targetID string, progress func(engine.Progress)) (engine.RollbackStats, error) {
	dir, err := h.l.pass(k, n)
	if err != nil {
		return engine.RollbackStats{}, err
	}
	dst, release, err := h.openWrite(ctx, image)
	if err != nil {
		return engine.RollbackStats{}, err
	}
	defer release()
	st, err := retryBusy(ctx, func() (engine.RollbackStats, error) {
		return engine.Rollback(ctx, dir, dst, engine.RollbackOptions{TargetID: targetID, Progress: progress})
	})
	if err != nil {
		return st, err
	}
	if err := dst.Flush(ctx); err != nil {
		return st, fmt.Errorf("flush %s: %w", image, err)
	}
	return st, nil
}

// Discard commits the passes of disk k: their journals go, and no
// rollback is possible after it.
func (h *Local) Discard(k DiskKey, passes []int) error {
	for _, n := range passes {
		dir, err := h.l.pass(k, n)
		if err != nil {
			return err
		}
		if err := engine.DiscardJournal(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("discard journal %s: %w", dir, err)
		}
		os.RemoveAll(dir)
	}
	return nil
}

// Forget removes disk k's sums, and its folders once they are empty.
func (h *Local) Forget(k DiskKey) error {
	p, err := h.l.sums(k)
	if err != nil {
		return err
	}
	os.Remove(p)
	os.Remove(p + ".partial")
	h.l.prune(k)
	return nil
}

// Changed lists the blocks of the image that changed since disk k's sums
// were written, reading the image only.
func (h *Local) Changed(ctx context.Context, k DiskKey, image string, threads int, progress func(engine.Progress)) ([]engine.Extent, error) {
	p, err := h.l.sums(k)
	if err != nil {
		return nil, err
	}
	src, release, err := h.openRead(image)
	if err != nil {
		return nil, err
	}
	defer release()
	return engine.ChangedBlocks(ctx, src, p, engine.ChangedOptions{Threads: threads, Progress: progress})
}

// Inspect says what the image is: there or not, its format and size,
// its allocation when asked, and whether it can be locked for writing.
func Inspect(image string, allocation, lock bool) Image {
	var im Image
	_, err := os.Stat(image)
	if errors.Is(err, fs.ErrNotExist) {
		return im
	}
	im.Exists = true
	if err != nil {
		im.Problem = err.Error()
		return im
	}
	img, err := vdisk.Open(image, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		im.Problem, im.Corrupt = err.Error(), errors.Is(err, vdisk.ErrCorrupt)
		return im
	}
	info := img.Info()
	im.Info = &info
	if allocation {
		if im.Allocated, err = img.Allocated(); err != nil {
			im.Problem = err.Error()
		}
	}
	img.Close()
	if lock {
		lk, err := hyperv.LockDiskForWrite(image)
		var he *hyperv.HostError
		if errors.As(err, &he) {
			im.LockHint = he.Hint
		}
		if err != nil {
			im.LockProblem = err.Error()
		} else {
			_ = lk.Release()
		}
	}
	return im
}

// StateSpace is the room on the state folder's volume (the journals').
func (h *Local) StateSpace() (Space, error) {
	sp, err := hyperv.LocalFreeSpace(h.l.root)
	if err != nil {
		return Space{}, err
	}
	return Space{Folder: h.l.root, Volume: sp.Volume, Free: sp.Free, Total: sp.Total}, nil
}

// Send writes the given ranges of the image into dst (reverse
// replication: the Azure copy), and the disk's new sums. No journal: an
// interrupted send is simply sent again by the next cycle. The engine
// reads its target only to fill the sums of blocks it did not send;
// those reads come from the image, which holds the same bytes there.
func (h *Local) Send(ctx context.Context, k DiskKey, image string, dst engine.Target, o SyncOptions, progress func(engine.Progress)) (engine.Stats, error) {
	sums, err := h.l.sums(k)
	if err != nil {
		return engine.Stats{}, err
	}
	src, release, err := h.openRead(image)
	if err != nil {
		return engine.Stats{}, err
	}
	defer release()
	return engine.Sync(ctx, src, mirrorTarget{Target: dst, local: src}, engine.Options{Mode: engine.Ranges, Ranges: o.Ranges,
		BlockSize: o.BlockSize, Threads: o.Threads, MemoryLimit: o.MemoryLimit, NoJournal: true, SumsFile: sums,
		SourceID: o.SourceID, TargetID: o.TargetID, BandwidthLimit: o.BandwidthLimit, Bandwidth: o.Bandwidth, Progress: progress})
}

// mirrorTarget is the Azure copy a send writes, whose reads come from the
// local image: outside the changed ranges the copy equals the image
// (that is what the sums said), so reading the image gives the same sums
// without downloading anything.
type mirrorTarget struct {
	engine.Target
	local engine.Source
}

func (m mirrorTarget) ReadAt(ctx context.Context, p []byte, off int64) error {
	return m.local.ReadAt(ctx, p, off)
}

// WriteZeroes passes to the copy (page blobs and the encrypting target
// both clear pages).
func (m mirrorTarget) WriteZeroes(ctx context.Context, off, n int64) error {
	if z, ok := m.Target.(engine.Zeroer); ok {
		return z.WriteZeroes(ctx, off, n)
	}
	return m.Target.WriteAt(ctx, make([]byte, n), off)
}

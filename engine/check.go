package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// check reads what a block needs and decides whether it must be written.
func (r *run) check(ctx context.Context, it item, s *slot) (pending, bool, error) {
	if r.cfg.Mode == Delta {
		return r.checkDelta(ctx, it, s)
	}
	return r.checkCopy(ctx, it, s)
}

// checkDelta compares the checksums of both sides. Sides that lend their
// bytes (Viewer) are hashed where they lie; only a block that differs is
// copied (the source's to write it, the target's for the undo journal).
func (r *run) checkDelta(ctx context.Context, it item, s *slot) (pending, bool, error) {
	n, zs := it.n, r.zeroSum(it.n)
	src, dst := s.src[:n], s.dst[:n]
	p := pending{it: it, s: s, hasSum: true}
	read, viewed := false, false
	switch {
	case !it.srcAlloc:
		p.sum, p.srcZero = zs, true
	case it.hasSum:
		p.sum, p.srcZero = it.srcSum, it.srcSum == zs
	default:
		var err error
		viewed, err = r.viewSource(ctx, it, func(b []byte) {
			p.sum = HashBlock(b)
			p.srcZero = p.sum == zs && r.isZero(b)
		})
		if err != nil {
			return p, false, err
		}
		if viewed {
			break
		}
		if err := r.readSource(ctx, src, it.off); err != nil {
			return p, false, err
		}
		read = true
		p.sum = HashBlock(src)
		p.srcZero = p.sum == zs && r.isZero(src)
	}
	dsum := zs
	p.oldZero = true
	if it.dstAlloc {
		ok, err := view(ctx, r.dstView, it, func(b []byte) {
			dsum = HashBlock(b)
			p.oldZero = dsum == zs && r.isZero(b)
			if dsum != p.sum {
				copy(dst, b) // the old bytes, for the undo journal
			}
		})
		if err != nil {
			return p, false, fmt.Errorf("read target at offset %d: %w", it.off, err)
		}
		if ok {
			r.ctr.bytesReadTarget.Add(n)
		} else {
			if err := r.readTarget(ctx, dst, it.off); err != nil {
				return p, false, err
			}
			dsum = HashBlock(dst)
			p.oldZero = dsum == zs && r.isZero(dst)
		}
	}
	if dsum == p.sum {
		return p, false, nil
	}
	if !read && !p.srcZero {
		// Only now, and only for a block that differs, cross the WAN (or
		// copy the bytes a view lent).
		if err := r.refetchSource(ctx, it, src, viewed); err != nil {
			return p, false, err
		}
		if HashBlock(src) != p.sum {
			return p, false, fmt.Errorf("source block %d changed during the sync (its bytes do not match the checksum the source reported): sync from a snapshot", it.block)
		}
	}
	return p, true, nil
}

// view lends block it of a Viewer side to f; false (and no error) when
// there is none or it cannot lend that block: read it instead.
func view(ctx context.Context, v Viewer, it item, f func(b []byte)) (bool, error) {
	if v == nil {
		return false, nil
	}
	err := v.View(ctx, it.off, it.n, f)
	if errors.Is(err, ErrNoView) {
		return false, nil
	}
	return err == nil, err
}

// viewSource lends source block it to f, under the bandwidth limit and
// counted as read, when the source can.
func (r *run) viewSource(ctx context.Context, it item, f func(b []byte)) (bool, error) {
	if r.srcView == nil {
		return false, nil
	}
	ok, err := view(ctx, r.srcView, it, f)
	if err != nil {
		return false, fmt.Errorf("read source at offset %d: %w", it.off, err)
	}
	if !ok {
		return false, nil // the read that follows waits for these bytes
	}
	// Charged once viewed: a source that cannot lend the block is read
	// instead, and that read waits for the same bytes.
	if err := r.lim.Wait(ctx, it.n); err != nil {
		return false, err
	}
	r.ctr.bytesReadSource.Add(it.n)
	return true, nil
}

// refetchSource fills p with source block it once it is known to differ:
// a copy of the view it was hashed in (already counted), else a read.
func (r *run) refetchSource(ctx context.Context, it item, p []byte, viewed bool) error {
	if viewed {
		ok, err := view(ctx, r.srcView, it, func(b []byte) { copy(p, b) })
		if err != nil {
			return fmt.Errorf("read source at offset %d: %w", it.off, err)
		}
		if ok {
			return nil
		}
	}
	return r.readSource(ctx, p, it.off)
}

// checkCopy is full and ranges mode: no checksums. The target is read only
// when the undo journal needs its old bytes; having them, an equal block
// is not rewritten.
func (r *run) checkCopy(ctx context.Context, it item, s *slot) (pending, bool, error) {
	n := it.n
	src, dst := s.src[:n], s.dst[:n]
	p := pending{it: it, s: s, srcZero: true, hasSum: r.sums != nil}
	if it.srcAlloc {
		if err := r.readSource(ctx, src, it.off); err != nil {
			return p, false, err
		}
		p.srcZero = r.isZero(src)
	}
	if p.hasSum {
		p.sum = r.zeroSum(n)
		if !p.srcZero {
			p.sum = HashBlock(src)
		}
	}
	if !it.dstAlloc {
		p.oldZero = true
		return p, !p.srcZero, nil
	}
	if r.job == nil {
		return p, true, nil // cannot know the old bytes: write
	}
	if err := r.readTarget(ctx, dst, it.off); err != nil {
		return p, false, err
	}
	p.oldZero = r.isZero(dst)
	if p.srcZero && p.oldZero || !p.srcZero && bytes.Equal(src, dst) {
		return p, false, nil
	}
	return p, true, nil
}

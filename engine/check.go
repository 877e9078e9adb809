package engine

import (
	"bytes"
	"context"
	"fmt"
)

// check reads what a block needs and decides whether it must be written.
func (r *run) check(ctx context.Context, it item, s *slot) (pending, bool, error) {
	if r.cfg.Mode == Delta {
		return r.checkDelta(ctx, it, s)
	}
	return r.checkCopy(ctx, it, s)
}

// checkDelta compares the checksums of both sides.
func (r *run) checkDelta(ctx context.Context, it item, s *slot) (pending, bool, error) {
	n, zs := it.n, r.zeroSum(it.n)
	src, dst := s.src[:n], s.dst[:n]
	p := pending{it: it, s: s, hasSum: true}
	read := false
	switch {
	case !it.srcAlloc:
		p.sum, p.srcZero = zs, true
	case it.hasSum:
		p.sum, p.srcZero = it.srcSum, it.srcSum == zs
	default:
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
		if err := r.readTarget(ctx, dst, it.off); err != nil {
			return p, false, err
		}
		dsum = HashBlock(dst)
		p.oldZero = dsum == zs && r.isZero(dst)
	}
	if dsum == p.sum {
		return p, false, nil
	}
	if !read && !p.srcZero {
		// Only now, and only for a block that differs, cross the WAN.
		if err := r.readSource(ctx, src, it.off); err != nil {
			return p, false, err
		}
		if HashBlock(src) != p.sum {
			return p, false, fmt.Errorf("source block %d changed during the sync (its bytes do not match the checksum the source reported): sync from a snapshot", it.block)
		}
	}
	return p, true, nil
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

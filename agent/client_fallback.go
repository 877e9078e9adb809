package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/failback/failback/engine"
)

// agentState says whether the agent is marked down and, if so, whether
// this caller should probe it now (one caller per ReprobeAfter).
func (s *Source) agentState() (down, probe bool) {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	if !s.down {
		return false, false
	}
	if now := time.Now(); now.After(s.retryAt) {
		s.retryAt = now.Add(s.o.ReprobeAfter)
		return true, true
	}
	return true, false
}

// markDown switches to the fallback after the agent failed for good.
func (s *Source) markDown(err error) {
	if s.o.Fallback == nil {
		return
	}
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	s.retryAt = time.Now().Add(s.o.ReprobeAfter)
	if s.down {
		return
	}
	s.down = true
	s.st.switches.Add(1)
	s.log.Warn("agent unreachable: reading the snapshot directly from storage (every block read crosses the WAN in full) until it answers again",
		"agent", s.base.Host, "snapshot", s.ref.String(), "retry_in", s.o.ReprobeAfter, "err", err)
}

// markUp returns to the agent after it answered.
func (s *Source) markUp() {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	if s.down {
		s.down = false
		s.log.Info("agent answers again: checksums are computed next to the data", "agent", s.base.Host, "snapshot", s.ref.String())
	}
}

// fallbackAlloc is the allocation list to use without the agent: the
// agent's, when it gave one (same snapshot), else the fallback's, fetched
// once.
func (s *Source) fallbackAlloc(ctx context.Context) ([]engine.Extent, error) {
	if s.alloc != nil {
		return s.alloc, nil
	}
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	if !s.fbAllocOK {
		ex, err := s.o.Fallback.Allocated(ctx)
		if err != nil {
			return nil, err
		}
		s.fbAlloc, s.fbAllocOK = ex, true
	}
	return s.fbAlloc, nil
}

func (s *Source) readFallback(ctx context.Context, p []byte, off int64) error {
	if err := s.o.Fallback.ReadAt(ctx, p, off); err != nil {
		return fmt.Errorf("agent unreachable, and the direct read failed too: %w", err)
	}
	s.st.fbRead.Add(int64(len(p)))
	return nil
}

// hashFallback computes sums here, reading blocks through the fallback
// with FallbackParallel readers (the engine asks for sums from one
// goroutine); unallocated blocks are not read.
func (s *Source) hashFallback(ctx context.Context, bs int64, blocks []int64, out []engine.Sum) error {
	alloc, err := s.fallbackAlloc(ctx)
	if err != nil {
		return fmt.Errorf("agent unreachable, and listing the snapshot directly failed too: %w", err)
	}
	w := min(s.o.FallbackParallel, len(blocks))
	if w == 0 {
		return nil
	}
	return ordered(ctx, len(blocks), w, 2*w, int(bs),
		func(ctx context.Context, i int, buf []byte) (engine.Sum, error) {
			off := blocks[i] * bs
			n := s.blockLen(blocks[i], bs)
			if !overlaps(alloc, off, n) {
				return zeroSum(n), nil
			}
			if err := s.o.Fallback.ReadAt(ctx, buf[:n], off); err != nil {
				return engine.Sum{}, fmt.Errorf("agent unreachable, and the direct read failed too: %w", err)
			}
			s.st.fbHashed.Add(n)
			return engine.HashBlock(buf[:n]), nil
		},
		func(i int, v engine.Sum) error { out[i] = v; return nil })
}

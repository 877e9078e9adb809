package ui

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// screen collects everything a program writes, so a test can wait for
// text that appears after a given point (a key press) without losing
// bytes between waits.
type screen struct {
	mu  sync.Mutex
	buf strings.Builder
}

// watch copies r into a screen until the test ends. r may return EOF
// while empty (teatest's buffer does); watch polls it.
func watch(t *testing.T, r io.Reader) *screen {
	s := &screen{}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:n])
			s.mu.Unlock()
			if err != nil && !errors.Is(err, io.EOF) {
				return
			}
			if n == 0 {
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
	}()
	return s
}

// mark is the current end of the output.
func (s *screen) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Len()
}

// waitFor waits until every want appears in the output written after
// from, and returns the new end of the output.
func (s *screen) waitFor(t *testing.T, from int, want ...string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		out := s.buf.String()[from:]
		s.mu.Unlock()
		missing := ""
		for _, w := range want {
			if !strings.Contains(out, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return from + len(out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %q; output since mark:\n%s", missing, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

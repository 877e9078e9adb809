package azure

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
)

// A download's body frees its tickets once: when read to its end, closed,
// or when the request's context ends, which may happen at once (an ended
// context runs its AfterFunc right away, on another goroutine) and while
// the body is being read. go test -race checks the three meet safely.
func TestGatedBodyEndsOnceWhateverEndsIt(t *testing.T) {
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // ended before the answer came
		var mu sync.Mutex
		calls, got := 0, int64(0)
		b := &gatedBody{ReadCloser: io.NopCloser(strings.NewReader(strings.Repeat("x", 4096))), done: func(n int64) {
			mu.Lock()
			calls++
			got = n
			mu.Unlock()
		}}
		b.mu.Lock()
		b.stop = context.AfterFunc(ctx, b.finish)
		b.mu.Unlock()
		if _, err := io.Copy(io.Discard, b); err != nil {
			t.Fatal(err)
		}
		_ = b.Close()
		mu.Lock()
		if calls != 1 || got < 0 || got > 4096 {
			t.Fatalf("done called %d times with %d bytes", calls, got)
		}
		mu.Unlock()
	}
}

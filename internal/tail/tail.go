// Package tail keeps the end of a stream: what a child program or a
// remote command printed last on its standard error, for messages when
// it fails.
package tail

import (
	"strings"
	"sync"
)

// Max is how much a Buffer keeps.
const Max = 4 << 10

// Buffer is an io.Writer that keeps the last Max bytes written. It is
// safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  []byte
}

// Write keeps the end of p and what came before it.
func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if n := len(t.b); n > Max {
		t.b = append(t.b[:0], t.b[n-Max:]...)
	}
	return len(p), nil
}

// String is what was kept, without surrounding space.
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

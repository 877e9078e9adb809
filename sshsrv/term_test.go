package sshsrv

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// term is one SSH session with a PTY, as a person's terminal would
// open it. Its output is collected so tests can wait for text; it
// answers the terminal queries (background colour, device attributes)
// that wish sends at session start, as xterm does.
type term struct {
	t      *testing.T
	client *gossh.Client
	sess   *gossh.Session
	in     io.WriteCloser

	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// Keys as a terminal sends them.
const (
	kEnter = "\r"
	kEsc   = "\x1b"
	kDown  = "\x1b[B"
	kTab   = "\t"
)

func (tm *term) collect(r io.Reader) {
	defer close(tm.done)
	b := make([]byte, 4096)
	answered := 0
	for {
		n, err := r.Read(b)
		tm.mu.Lock()
		tm.out.Write(b[:n])
		asked := strings.Count(tm.out.String(), "\x1b]11;?")
		tm.mu.Unlock()
		for ; answered < asked; answered++ {
			_, _ = io.WriteString(tm.in, "\x1b]11;rgb:0000/0000/0000\x1b\\\x1b[?62;22c")
		}
		if err != nil {
			return
		}
	}
}

// mark is the current end of the output.
func (tm *term) mark() int {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.Len()
}

// output is everything the session has shown so far.
func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// waitFor waits until every want appears after from; it returns the
// new end of the output.
func (tm *term) waitFor(from int, want ...string) int {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := tm.output()[from:]
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
			tm.t.Fatalf("waited 10s for %q; session output since mark:\n%q", missing, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// press sends one key and waits for every want to appear.
func (tm *term) press(k string, want ...string) {
	tm.t.Helper()
	from := tm.mark()
	if _, err := io.WriteString(tm.in, k); err != nil {
		tm.t.Fatalf("send %q: %v", k, err)
	}
	tm.waitFor(from, want...)
}

// drop closes the connection at once, as a lost network would.
func (tm *term) drop() {
	_ = tm.client.Close()
	select {
	case <-tm.done:
	case <-time.After(10 * time.Second):
		tm.t.Fatal("session output did not end after the connection closed")
	}
}

package lab

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// stepper prints lab up's progress: one line per step when it ends, with
// the time since lab up began and the step's own time, so a new user sees
// what happens and where the time goes.
type stepper struct {
	w     io.Writer
	start time.Time
}

func newStepper(w io.Writer) *stepper { return &stepper{w: w, start: time.Now()} }

func (s *stepper) elapsed() string { return seconds(time.Since(s.start)) }

type step struct {
	s     *stepper
	name  string
	begun time.Time
}

// begin starts a step; its line is printed by done.
func (s *stepper) begin(name string) *step {
	return &step{s: s, name: name, begun: time.Now()}
}

func (st *step) done(format string, args ...any) {
	fmt.Fprintf(st.s.w, "  [%6s] %s: %s (%s)\n", st.s.elapsed(), st.name, fmt.Sprintf(format, args...), seconds(time.Since(st.begun)))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// installLog is where azurite.Ensure reports: its "installing" line goes
// to the user (an npm install takes a while, they should know why), npm's
// own output to a log file.
func installLog(progress io.Writer, logPath string) *lineFilter {
	return &lineFilter{keep: func(l string) bool { return strings.HasPrefix(l, "installing Azurite") },
		to: progress, rest: logPath}
}

type lineFilter struct {
	mu   sync.Mutex
	keep func(string) bool
	to   io.Writer
	rest string
	buf  []byte
	f    *os.File
}

// Close closes the log file.
func (l *lineFilter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

func (l *lineFilter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.buf[:i+1])
		l.buf = l.buf[i+1:]
		if l.keep(line) {
			fmt.Fprintf(l.to, "  %s", line)
			continue
		}
		if l.f == nil {
			f, err := os.OpenFile(l.rest, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				continue
			}
			l.f = f
		}
		_, _ = l.f.WriteString(line)
	}
}

// shortPath shows p relative to the working folder when that is shorter.
func shortPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && len(r) < len(p) && !strings.HasPrefix(r, "../..") {
		return r
	}
	return p
}

// size formats a byte count, 1024-based.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(1<<30))) + " GiB"
	case n >= 1<<20:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(1<<20))) + " MiB"
	case n >= 1<<10:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(1<<10))) + " KiB"
	}
	return fmt.Sprintf("%d B", n)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

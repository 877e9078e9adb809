package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/units"
)

// progressPrinter shows engine progress: one rewritten line on a
// terminal, a plain line every few seconds (and at each phase) otherwise.
type progressPrinter struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	last  time.Time
	phase engine.Phase
	shown bool
}

// plainEvery spaces progress lines when stderr is a log, not a terminal.
const plainEvery = 5 * time.Second

func newProgressPrinter(w io.Writer, tty bool) *progressPrinter {
	return &progressPrinter{w: w, tty: tty}
}

func (p *progressPrinter) print(e engine.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := progressLine(e)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
		return
	}
	if e.Phase != p.phase || time.Since(p.last) >= plainEvery {
		fmt.Fprintln(p.w, line)
		p.phase, p.last = e.Phase, time.Now()
	}
}

// note prints a line of its own among the progress lines.
func (p *progressPrinter) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
	fmt.Fprintln(p.w, line)
}

// end finishes the terminal line so later output starts on its own.
func (p *progressPrinter) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}

func progressLine(e engine.Progress) string {
	if e.Phase == engine.PhasePrepare {
		return "prepare  opening the journal, listing allocated ranges"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %5.1f%%  %s of %s", e.Phase, e.Percent, units.Bytes(e.Done), units.Bytes(e.Total))
	if e.Rate > 0 && e.Phase != engine.PhaseDone {
		fmt.Fprintf(&b, "  %s/s", units.Bytes(int64(e.Rate)))
	}
	if e.ETA >= 0 && e.Phase != engine.PhaseDone {
		fmt.Fprintf(&b, "  ETA %s", e.ETA.Round(time.Second))
	}
	if e.Phase != engine.PhaseRollback {
		fmt.Fprintf(&b, "  differed %d blocks (%s)", e.BlocksDiffered, units.Bytes(e.BytesTransferred))
	} else {
		fmt.Fprintf(&b, "  restored %d blocks", e.BlocksChecked)
	}
	return b.String()
}

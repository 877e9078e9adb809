package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/workflow"
)

// Exit codes of the workflow commands (run, complete, commit, cancel,
// undo, reverse, resume, status), documented in their --help:
const (
	exitOK          = 0 // the job reached the state the command drives it to
	exitFailed      = 1 // the job failed, or an error (unreachable host, I/O)
	exitUsage       = 2 // a mistake in the command line
	exitRefused     = 3 // nothing done: pre-flight failed, unknown plan/VM/host, action not possible now, unknown job, viewer
	exitInterrupted = 4 // stopped by a signal: the job is left resumable
)

const exitCodesHelp = `
Exit codes: 0 the job reached the state the command drives it to;
1 the job failed or an error occurred (the message says what to do);
2 usage error; 3 refused, nothing done (pre-flight failed, a plan, VM or
host config.toml does not define, action not possible in the job's
state, unknown job); 4 interrupted by a signal (the
job is left resumable: failback resume JOB). Progress goes to stderr;
stdout carries only results.`

// refused turns the workflow's refusals into exit code 3.
func refused(err error) error {
	if errors.Is(err, workflow.ErrRefused) || errors.Is(err, workflow.ErrNotAllowed) ||
		errors.Is(err, workflow.ErrUnknownJob) || errors.Is(err, workflow.ErrPreflight) {
		return &ExitError{Code: exitRefused, Err: err}
	}
	return err
}

// watcher prints a job's new log lines and, every few seconds, a progress
// line on stderr.
type watcher struct {
	w        io.Writer
	quiet    bool
	lastTime time.Time
	seen     map[string]bool
	lastProg time.Time
}

func newWatcher(w io.Writer, quiet bool) *watcher {
	return &watcher{w: w, quiet: quiet, seen: map[string]bool{}}
}

// show prints what is new about the job.
func (wt *watcher) show(svc workflow.Service, id string, v workflow.JobView) {
	if wt.quiet {
		return
	}
	for _, l := range safetext.Value(svc.Log(id, 200)) {
		key := l.Time.String() + l.Text
		if l.Time.Before(wt.lastTime) || wt.seen[key] {
			continue
		}
		if l.Time.After(wt.lastTime) {
			wt.lastTime, wt.seen = l.Time, map[string]bool{}
		}
		wt.seen[key] = true
		fmt.Fprintf(wt.w, "%s %s\n", l.Time.Local().Format("15:04:05"), l.Text)
	}
	if (syncing(v.State) || v.Wait != "") && time.Since(wt.lastProg) >= 3*time.Second && (v.Percent > 0 || v.Wait != "") {
		wt.lastProg = time.Now()
		fmt.Fprintln(wt.w, progressText(safetext.Value(v)))
	}
}

// syncing reports whether a job in state s moves disk bytes, so that a
// progress line says something. It is narrower than JobState.Moving on
// purpose: a job shutting VMs down or starting them is moving but has no
// figures worth a line.
func syncing(s workflow.JobState) bool {
	switch s {
	case workflow.StatePhase1, workflow.StateCatchUp, workflow.StatePhase2, workflow.StateVerify, workflow.StateReverse, workflow.StateCancelling:
		return true
	}
	return false
}

// progressText is one line of figures: the job's phase and how far
// through it, then each busy disk, as the workflow's view defines them.
func progressText(v workflow.JobView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "         %s %s", v.Phase, strings.TrimSpace(v.DoneText()))
	if v.ETA > 0 {
		fmt.Fprintf(&b, ", about %s left", units.Duration(v.ETA))
	}
	fmt.Fprintf(&b, "; moved %s in all", units.Bytes(v.Totals.Moved))
	for _, vm := range v.VMs {
		for _, d := range vm.Disks {
			if d.Phase == "waiting" || d.Phase == "done" {
				continue
			}
			fmt.Fprintf(&b, " | %s/%s %s %s, %s moved", vm.Name, d.Name, d.Phase, strings.TrimSpace(units.Percent(d.Percent)), units.Bytes(d.BytesTransferred))
			if d.Rate > 0 {
				fmt.Fprintf(&b, " %s/s", units.Bytes(int64(d.Rate)))
			}
			if a := d.Agent; a != nil {
				fmt.Fprintf(&b, ", agent link %s", units.Bytes(a.LinkBytes))
				if a.Fallback {
					b.WriteString(" (unreachable: reading directly)")
				}
			}
		}
	}
	if v.Wait != "" {
		fmt.Fprintf(&b, " | waiting: %s", v.Wait)
	}
	return b.String()
}

// waitJob follows the job until done says it is where the command drives
// it, or it rests elsewhere (then the error says where and what next).
func waitJob(ctx context.Context, svc workflow.Service, id string, wt *watcher, done func(workflow.JobView) bool) (workflow.JobView, error) {
	ch, stop := svc.Subscribe()
	defer stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		v, ok := svc.Job(id)
		if !ok {
			err := fmt.Errorf("job %s: %w", id, workflow.ErrUnknownJob)
			if c, isClient := svc.(*workflow.Client); isClient && c.Err() != nil {
				pid, cmd := c.Driver()
				err = fmt.Errorf("lost the process driving job %s (pid %d, %s): %v; run 'failback status %s' to see where it stands", id, pid, cmd, c.Err(), id)
			}
			return v, err
		}
		wt.show(svc, id, v)
		switch {
		case done(v):
			return v, nil
		case v.State == workflow.StateFailed:
			return v, &ExitError{Code: exitFailed, Err: fmt.Errorf("job %s failed: %s\nresume it with 'failback resume %s', or roll it back with 'failback cancel --yes %s'", id, v.Error, id, id)}
		case v.State.Resting() && v.State != workflow.StateInterrupted:
			return v, &ExitError{Code: exitFailed, Err: fmt.Errorf("job %s is %s", id, v.State)}
		}
		select {
		case <-ctx.Done():
			return v, &ExitError{Code: exitInterrupted, Err: fmt.Errorf("interrupted while job %s is %s: it stops at a safe point and resumes with 'failback resume %s' (or cancel it with 'failback cancel --yes %s')", id, v.State, id, id)}
		case <-ch:
		case <-tick.C:
		}
	}
}

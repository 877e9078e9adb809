package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
)

// SourceRequest is what Deps.SourceVia gets to open one snapshot.
type SourceRequest struct {
	// Disk is the Azure disk and Snapshot the snapshot of it to read.
	Disk     azure.DiskRef
	Snapshot string
	// Direct is the same snapshot read straight from storage (the
	// fallback while the agent is unreachable).
	Direct engine.Source
	// Log writes into the job's log (and audit.log): a source's warnings
	// belong there, not on stderr, where they would garble the console.
	Log *slog.Logger
}

// AgentReporter is a source from Deps.SourceVia that can say what
// crossed its link. AgentStats must be cheap (it runs with every
// progress sample); it is never called under the job's lock, so it may
// wait for the source's own logging into the job.
type AgentReporter interface {
	AgentStats() AgentView
}

// add folds b's counters into a (Fallback is a live state, not a sum).
func (a *AgentView) add(b AgentView) {
	a.AzureChecked += b.AzureChecked
	a.BlockBytes += b.BlockBytes
	a.LinkBytes += b.LinkBytes
	a.CompressionSaved += b.CompressionSaved
	a.DirectBytes += b.DirectBytes
	a.FallbackSwitches += b.FallbackSwitches
}

// agentView is a disk's figures: what earlier sources left in the
// record plus the newest sample of the source open now.
func agentView(d diskRecord, l *liveDisk) *AgentView {
	if d.Agent == nil && (l == nil || l.agent == nil) {
		return nil
	}
	var v AgentView
	if d.Agent != nil {
		v.add(*d.Agent)
	}
	if l != nil && l.agent != nil {
		v.add(*l.agent)
		v.Fallback = l.agent.Fallback
	}
	return &v
}

// viaAgent opens disk k's snapshot through Deps.SourceVia. The release
// it returns folds the source's final figures into the disk's record
// (and drops the live sample in the same step, so nothing counts twice)
// before it closes the source; sample stores the newest figures for the
// view and is called with the engine's progress.
func (j *job) viaAgent(ctx context.Context, k diskKey, via func(context.Context, SourceRequest) (engine.Source, func(), error),
	d diskRecord, vm, snap string, direct engine.Source) (src engine.Source, release, sample func(), err error) {
	log := slog.New(&jobLogHandler{j: j, prefix: vm + " " + d.name() + ": "})
	src, closeSrc, err := via(ctx, SourceRequest{Disk: d.Azure, Snapshot: snap, Direct: direct, Log: log})
	if err != nil {
		return nil, nil, nil, err
	}
	rep, ok := src.(AgentReporter)
	if !ok {
		return src, closeSrc, func() {}, nil
	}
	// The figures are read outside the job's lock: the source may log
	// (into the job, under that lock) while it holds its own.
	sample = func() { j.agentSample(k, rep.AgentStats()) }
	release = func() {
		j.agentFold(k, rep.AgentStats())
		closeSrc()
	}
	return src, release, sample, nil
}

// agentSample keeps a source's newest agent figures for disk k's view.
func (j *job) agentSample(k diskKey, a AgentView) {
	j.mu.Lock()
	l := j.liveDisk(k)
	l.agent = &a
	j.mu.Unlock()
}

// agentFold adds a source's final figures to disk k's record and drops
// its live sample in the same step, so nothing counts twice.
func (j *job) agentFold(k diskKey, a AgentView) {
	a.Fallback = false
	_ = j.update(func(r *jobRecord) {
		// A new value, never a change in place: copies of the record
		// (snap) share the old pointer.
		dd := &r.VMs[k.v].Disks[k.d]
		var sum AgentView
		if dd.Agent != nil {
			sum = *dd.Agent
		}
		sum.add(a)
		dd.Agent = &sum
		if l := j.live[k]; l != nil {
			l.agent = nil
		}
	})
}

// jobLogHandler is a slog.Handler writing into a job's log: warnings of
// a source (the agent going down and coming back) reach the console's
// event log and audit.log, with the disk they concern.
type jobLogHandler struct {
	j      *job
	prefix string
	attrs  []slog.Attr
	group  string
}

func (h *jobLogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *jobLogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prefix + r.Message)
	var kv []string
	add := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		kv = append(kv, fmt.Sprintf("%s %v", strings.ReplaceAll(a.Key, "_", " "), a.Value.Resolve()))
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { return add(h.grouped(a)) })
	if len(kv) > 0 {
		b.WriteString(" (" + strings.Join(kv, ", ") + ")")
	}
	level, result := "info", "ok"
	switch {
	case r.Level >= slog.LevelError:
		level, result = "error", "error"
	case r.Level >= slog.LevelWarn:
		level, result = "warn", "warning"
	}
	h.j.record(nil, level, "agent", result, b.String())
	return nil
}

func (h *jobLogHandler) grouped(a slog.Attr) slog.Attr {
	if h.group != "" {
		a.Key = h.group + "." + a.Key
	}
	return a
}

func (h *jobLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = append(c.attrs, h.grouped(a))
	}
	return &c
}

func (h *jobLogHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

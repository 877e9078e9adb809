package mover

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
)

// Snapshot is a snapshot the driver opened, as the mover will read it:
// through URLs that read it alone, which Access makes (and makes again
// on request), decrypted with Key when the disk is encrypted.
type Snapshot struct {
	Name   string
	Size   int64
	Access func(ctx context.Context, force bool) (azure.Access, error)
	Key    *crypt.DataKey
	Read   ReadOptions
	// Agent, when set, is the Azure-side agent to read it through;
	// Figures then gets what crossed its link with each progress sample,
	// and Log its warnings, as the agent logged them.
	Agent   *Agent
	Figures func(AgentFigures)
	Log     *slog.Logger
	// Throttling, when set, gets with each progress sample what Azure's
	// throttling does to the mover's reads of the snapshot, counted from
	// the call's start (Last on this machine's clock).
	Throttling func(azure.Throttling)
}

// spec is the call's Source, and the renewal handler that stops
// answering once the call is over (an access made after the driver let
// the snapshot go would outlive it).
func (s Snapshot) spec(ctx context.Context) (Source, func(context.Context, bool) (access, error), func(), error) {
	a, err := s.Access(ctx, false)
	if err != nil {
		return Source{}, nil, nil, err
	}
	src := Source{Name: s.Name, Size: s.Size, URL: a.URL.Reveal(), ValidFor: validFor(a), Read: s.Read, Agent: s.Agent}
	if s.Key != nil {
		if err := s.Key.Use(func(b []byte) error { src.Key = append([]byte(nil), b...); return nil }); err != nil {
			return Source{}, nil, nil, err
		}
	}
	var over atomic.Bool
	renew := func(ctx context.Context, force bool) (access, error) {
		if over.Load() {
			return access{}, context.Canceled
		}
		a, err := s.Access(ctx, force)
		if err != nil {
			return access{}, err
		}
		return access{URL: a.URL.Reveal(), ValidFor: validFor(a)}, nil
	}
	return src, renew, func() { over.Store(true); clear(src.Key) }, nil
}

func validFor(a azure.Access) time.Duration {
	if a.Expires.IsZero() {
		return 0
	}
	return max(time.Until(a.Expires), time.Second)
}

func progressOf(f func(engine.Progress)) func(json.RawMessage) {
	return callProgress(f, nil, nil)
}

// callProgress hands the engine's samples to f, and the agent's figures
// and the throttling that come with them to fig and thr.
func callProgress(f func(engine.Progress), fig func(AgentFigures), thr func(azure.Throttling)) func(json.RawMessage) {
	if f == nil && fig == nil && thr == nil {
		return nil
	}
	return func(b json.RawMessage) {
		var p progressBody
		if json.Unmarshal(b, &p) != nil {
			return
		}
		if fig != nil && p.Agent != nil {
			fig(*p.Agent)
		}
		if thr != nil && p.Throttle != nil {
			thr(p.Throttle.throttling(time.Now()))
		}
		if f != nil {
			f(p.Progress)
		}
	}
}

// logOf logs a call's log lines into log, as they were logged on the host.
func logOf(log *slog.Logger) func(logLine) {
	if log == nil {
		return nil
	}
	return func(l logLine) {
		level := slog.LevelInfo
		switch l.Level {
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		attrs := make([]slog.Attr, 0, len(l.Attrs))
		for _, a := range l.Attrs {
			attrs = append(attrs, slog.String(a[0], a[1]))
		}
		log.LogAttrs(context.Background(), level, l.Text, attrs...)
	}
}

// Inspect says what an image on the host is.
func (c *Client) Inspect(ctx context.Context, image string, allocation, lock bool) (Image, error) {
	var im Image
	err := c.call(ctx, opInspect, inspectCall{Image: image, Allocation: allocation, Lock: lock}, &im, handlers{})
	return im, err
}

// Sync runs pass n of disk k on the host: the snapshot onto the image.
func (c *Client) Sync(ctx context.Context, k DiskKey, n int, image ImageRef, snap Snapshot, o SyncOptions,
	progress func(engine.Progress)) (engine.Stats, error) {
	release, err := c.move(ctx)
	if err != nil {
		return engine.Stats{}, err
	}
	defer release()
	src, renew, done, err := snap.spec(ctx)
	if err != nil {
		return engine.Stats{}, err
	}
	defer done()
	var st engine.Stats
	err = c.call(ctx, opSync, syncCall{Disk: k, Pass: n, Image: image.Path, Parent: image.Parent, Source: src, Options: o}, &st,
		handlers{progress: callProgress(progress, snap.Figures, snap.Throttling), log: logOf(snap.Log), renew: renew})
	return st, err
}

// Verify compares the image on the host with the snapshot.
func (c *Client) Verify(ctx context.Context, image ImageRef, snap Snapshot, o VerifyOptions, progress func(engine.Progress)) (engine.Counters, error) {
	release, err := c.move(ctx)
	if err != nil {
		return engine.Counters{}, err
	}
	defer release()
	src, renew, done, err := snap.spec(ctx)
	if err != nil {
		return engine.Counters{}, err
	}
	defer done()
	var n engine.Counters
	err = c.call(ctx, opVerify, verifyCall{Image: image.Path, Parent: image.Parent, Source: src, Options: o}, &n,
		handlers{progress: callProgress(progress, snap.Figures, snap.Throttling), log: logOf(snap.Log), renew: renew})
	return n, err
}

// Reach checks from the host that the blob's URL reads (its properties).
func (c *Client) Reach(ctx context.Context, snap Snapshot) error {
	snap.Key, snap.Agent = nil, nil // reaching storage needs neither
	src, renew, done, err := snap.spec(ctx)
	if err != nil {
		return err
	}
	defer done()
	return c.call(ctx, opReach, src, nil, handlers{renew: renew})
}

// Journals lists which of the passes of disk k have a journal on the host.
func (c *Client) Journals(ctx context.Context, k DiskKey, passes []int) ([]int, error) {
	var out []int
	err := c.call(ctx, opJournals, passCall{Disk: k, Passes: passes}, &out, handlers{})
	return out, err
}

// Rollback applies pass n's journal on the host to the image.
func (c *Client) Rollback(ctx context.Context, k DiskKey, n int, image ImageRef, targetID string, progress func(engine.Progress)) (engine.RollbackStats, error) {
	release, err := c.move(ctx)
	if err != nil {
		return engine.RollbackStats{}, err
	}
	defer release()
	var st engine.RollbackStats
	err = c.call(ctx, opRollback, passCall{Disk: k, Passes: []int{n}, Image: image.Path, Parent: image.Parent, TargetID: targetID}, &st,
		handlers{progress: progressOf(progress)})
	return st, err
}

// Discard drops the passes' journals on the host (commit).
func (c *Client) Discard(ctx context.Context, k DiskKey, passes []int) error {
	return c.call(ctx, opDiscard, passCall{Disk: k, Passes: passes}, nil, handlers{})
}

// Forget drops disk k's sums on the host.
func (c *Client) Forget(ctx context.Context, k DiskKey) error {
	return c.call(ctx, opForget, passCall{Disk: k}, nil, handlers{})
}

// Changed lists the image's blocks changed since disk k's sums, on the host.
func (c *Client) Changed(ctx context.Context, k DiskKey, image ImageRef, threads int, progress func(engine.Progress)) ([]engine.Extent, error) {
	release, err := c.move(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var out []engine.Extent
	err = c.call(ctx, opChanged, changedCall{Disk: k, Image: image.Path, Parent: image.Parent, Threads: threads}, &out, handlers{progress: progressOf(progress)})
	return out, err
}

// StateSpace is the room on the volume of the mover's state folder.
func (c *Client) StateSpace(ctx context.Context) (Space, error) {
	var sp Space
	err := c.call(ctx, opSpace, struct{}{}, &sp, handlers{})
	return sp, err
}

// Target is an Azure page blob the driver opened for writing (under its
// lease), as the mover will write it: through a URL that reads and
// writes it alone, which Access makes (again, when the mover asks),
// encrypted with Key when the disk is encrypted.
type Target struct {
	Name    string
	LeaseID string
	Access  func(ctx context.Context) (azure.Access, error)
	Key     *crypt.DataKey
	Read    ReadOptions
	// Throttling, when set, gets with each progress sample what Azure's
	// throttling does to the mover's writes, as Snapshot.Throttling.
	Throttling func(azure.Throttling)
}

// Send writes the image's given ranges (o.Ranges) into the target from
// the host, and the disk's new sums there (reverse replication).
func (c *Client) Send(ctx context.Context, k DiskKey, image ImageRef, t Target, o SyncOptions, progress func(engine.Progress)) (engine.Stats, error) {
	release, err := c.move(ctx)
	if err != nil {
		return engine.Stats{}, err
	}
	defer release()
	a, err := t.Access(ctx)
	if err != nil {
		return engine.Stats{}, err
	}
	b := Blob{Name: t.Name, URL: a.URL.Reveal(), ValidFor: validFor(a), LeaseID: t.LeaseID, Read: t.Read}
	if t.Key != nil {
		if err := t.Key.Use(func(k []byte) error { b.Key = append([]byte(nil), k...); return nil }); err != nil {
			return engine.Stats{}, err
		}
	}
	defer clear(b.Key)
	var over atomic.Bool
	defer over.Store(true)
	renew := func(ctx context.Context, _ bool) (access, error) {
		if over.Load() {
			return access{}, context.Canceled
		}
		a, err := t.Access(ctx)
		if err != nil {
			return access{}, err
		}
		return access{URL: a.URL.Reveal(), ValidFor: validFor(a)}, nil
	}
	var st engine.Stats
	err = c.call(ctx, opSend, sendCall{Disk: k, Image: image.Path, Parent: image.Parent, Target: b, Options: o}, &st,
		handlers{progress: callProgress(progress, nil, t.Throttling), renew: renew})
	return st, err
}

package mover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
)

// The server's side of each call: the same Local operations a driver
// runs on a share, with the source opened here from the URL it was given.

func (s *server) local() *Local { return &Local{l: s.l} }

// over is the mover's operations on an image opened over parent (a test
// failback's differencing child) when parent is named.
func (s *server) over(parent string) *Local {
	if parent == "" {
		return s.local()
	}
	return s.local().Opening(TestDiskOpener(parent))
}

func (s *server) inspect(req inspectCall) Image {
	return Inspect(req.Image, req.Allocation, req.Lock)
}

func (s *server) sync(ctx context.Context, c *call, req syncCall) (engine.Stats, error) {
	src, direct, closeSrc, err := s.openSource(ctx, c, req.Source)
	if err != nil {
		return engine.Stats{}, err
	}
	defer closeSrc()
	return s.over(req.Parent).Sync(ctx, req.Disk, req.Pass, req.Image, src, req.Options, c.sourceProgress(src, direct))
}

func (s *server) verify(ctx context.Context, c *call, req verifyCall) (engine.Counters, error) {
	src, direct, closeSrc, err := s.openSource(ctx, c, req.Source)
	if err != nil {
		return engine.Counters{}, err
	}
	defer closeSrc()
	return s.over(req.Parent).Verify(ctx, req.Image, src, req.Options, c.sourceProgress(src, direct))
}

// sourceProgress sends the engine's samples, with the agent's figures
// when src reads through it, and what Azure's throttling does to the
// reads of storage (direct: src itself, or what it decrypts or falls
// back to) since the call opened it.
func (c *call) sourceProgress(src engine.Source, direct throttleReporter) func(engine.Progress) {
	a, _ := src.(*agent.Source)
	throttle := throttleSince(direct)
	return func(p engine.Progress) {
		b := progressBody{Progress: p, Throttle: throttle()}
		if a != nil {
			f := FiguresOf(a.Stats())
			b.Agent = &f
		}
		c.progress(b)
	}
}

func (s *server) journals(req passCall) ([]int, error) {
	return s.local().Journals(req.Disk, req.Passes)
}

func (s *server) rollback(ctx context.Context, c *call, req passCall) (engine.RollbackStats, error) {
	if len(req.Passes) != 1 {
		return engine.RollbackStats{}, fmt.Errorf("%w: a rollback names one pass, not %d", ErrProtocol, len(req.Passes))
	}
	return s.over(req.Parent).Rollback(ctx, req.Disk, req.Passes[0], req.Image, req.TargetID, func(p engine.Progress) { c.progress(p) })
}

func (s *server) discard(req passCall) error { return s.local().Discard(req.Disk, req.Passes) }

func (s *server) forget(req passCall) error { return s.local().Forget(req.Disk) }

func (s *server) changed(ctx context.Context, c *call, req changedCall) ([]engine.Extent, error) {
	return s.over(req.Parent).Changed(ctx, req.Disk, req.Image, req.Threads, func(p engine.Progress) { c.progress(p) })
}

func (s *server) space() (Space, error) {
	if s.o.Space != nil {
		sp, err := s.o.Space(s.l.root)
		return Space{Folder: s.l.root, Volume: sp.Volume, Free: sp.Free, Total: sp.Total}, err
	}
	return s.local().StateSpace()
}

// reach reads the properties of the blob the URL names: the host can
// reach Azure storage, and such a URL works from there.
func (s *server) reach(ctx context.Context, c *call, req Source) error {
	_, _, closeSrc, err := s.openSource(ctx, c, req)
	if err != nil {
		return err
	}
	closeSrc()
	return nil
}

// openSource opens the snapshot a call names, through its URL, asking
// the driver for a new one before it ends or when it is refused; an
// encrypted disk is decrypted here with the key the call carried.
// direct is the snapshot read from storage (the source itself, or what
// it decrypts or falls back to).
func (s *server) openSource(ctx context.Context, c *call, spec Source) (src engine.Source, direct *azure.SnapshotSource, release func(), err error) {
	defer clear(spec.Key)
	renew := func(ctx context.Context, force bool) (azure.Access, error) {
		var a access
		if err := c.ask(ctx, renewAsk{What: askRenew, Force: force}, &a); err != nil {
			return azure.Access{}, err
		}
		return accessOf(a.URL, a.ValidFor), nil
	}
	direct, err = azure.OpenSnapshotURL(ctx, azure.URLSnapshot{Name: spec.Name, Size: spec.Size,
		Access: accessOf(spec.URL, spec.ValidFor), Renew: renew,
		Read: s.storageOptions(spec.Read)})
	if err != nil {
		return nil, nil, nil, err
	}
	if spec.Agent != nil && len(spec.Key) == 0 {
		a, err := viaAgent(ctx, spec.Agent, direct, slog.New(frameLog{c: c}))
		if err != nil {
			return nil, nil, nil, err
		}
		return a, direct, a.Close, nil
	}
	if len(spec.Key) == 0 {
		return direct, direct, func() {}, nil
	}
	key, err := crypt.DataKeyFrom(spec.Key)
	if err != nil {
		return nil, nil, nil, err
	}
	dec, err := crypt.DecryptingSource(direct, key)
	if err != nil {
		key.Destroy()
		return nil, nil, nil, err
	}
	return dec, direct, key.Destroy, nil
}

// accessOf is a URL valid for d from now (the driver's clock and the
// host's need not agree, so a duration crosses, never a time).
func accessOf(url string, d time.Duration) azure.Access {
	a := azure.Access{URL: azure.NewSecret(url)}
	if d > 0 {
		a.Expires = time.Now().Add(d)
	}
	return a
}

func (s *server) send(ctx context.Context, c *call, req sendCall) (engine.Stats, error) {
	dst, direct, closeDst, err := s.openBlob(ctx, c, req.Target)
	if err != nil {
		return engine.Stats{}, err
	}
	defer closeDst()
	return s.over(req.Parent).Send(ctx, req.Disk, req.Image, dst, req.Options, c.throttledProgress(direct))
}

// throttledProgress sends the engine's samples with what Azure's
// throttling does to the blob direct since the call opened it.
func (c *call) throttledProgress(direct throttleReporter) func(engine.Progress) {
	throttle := throttleSince(direct)
	return func(p engine.Progress) { c.progress(progressBody{Progress: p, Throttle: throttle()}) }
}

// openBlob opens the page blob a send writes, encrypting with the key
// the call carried; a URL that is refused (it ended) is renewed by
// asking the driver, and the write tried again. direct is the blob as
// first opened (its throttling is that of every renewal: they share the
// session's limits).
func (s *server) openBlob(ctx context.Context, c *call, spec Blob) (engine.Target, *azure.PageBlobTarget, func(), error) {
	defer clear(spec.Key)
	open := func(ctx context.Context, url string) (*azure.PageBlobTarget, error) {
		return azure.OpenPageBlobURL(ctx, azure.URLBlob{Name: spec.Name, URL: azure.NewSecret(url), LeaseID: spec.LeaseID,
			Read: s.storageOptions(spec.Read)})
	}
	pb, err := open(ctx, spec.URL)
	if err != nil {
		return nil, nil, nil, err
	}
	var key *crypt.DataKey
	wrap := func(t *azure.PageBlobTarget) (engine.Target, error) {
		if key == nil {
			return t, nil
		}
		return crypt.EncryptingTarget(t, key)
	}
	if len(spec.Key) > 0 {
		if key, err = crypt.DataKeyFrom(spec.Key); err != nil {
			return nil, nil, nil, err
		}
	}
	t, err := wrap(pb)
	if err != nil {
		key.Destroy()
		return nil, nil, nil, err
	}
	r := &renewing{cur: t, renew: func(ctx context.Context) (engine.Target, error) {
		var a access
		if err := c.ask(ctx, renewAsk{What: askRenew, Force: true}, &a); err != nil {
			return nil, err
		}
		pb, err := open(ctx, a.URL)
		if err != nil {
			return nil, err
		}
		return wrap(pb)
	}}
	return r, pb, key.Destroy, nil
}

// renewing is a target whose access is renewed once when refused.
type renewing struct {
	mu    sync.Mutex
	cur   engine.Target
	renew func(ctx context.Context) (engine.Target, error)
}

func (r *renewing) target() engine.Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// do runs f, and when the service refused the access, renews it and
// runs f again.
func (r *renewing) do(ctx context.Context, f func(engine.Target) error) error {
	t := r.target()
	err := f(t)
	if !errors.Is(err, azure.ErrAccessDenied) {
		return err
	}
	r.mu.Lock()
	if r.cur == t {
		nt, rerr := r.renew(ctx)
		if rerr != nil {
			r.mu.Unlock()
			return fmt.Errorf("%w (renewing the access: %v)", err, rerr)
		}
		r.cur = nt
	}
	t = r.cur
	r.mu.Unlock()
	return f(t)
}

func (r *renewing) Size() int64 { return r.target().Size() }
func (r *renewing) ReadAt(ctx context.Context, p []byte, off int64) error {
	return r.do(ctx, func(t engine.Target) error { return t.ReadAt(ctx, p, off) })
}
func (r *renewing) WriteAt(ctx context.Context, p []byte, off int64) error {
	return r.do(ctx, func(t engine.Target) error { return t.WriteAt(ctx, p, off) })
}
func (r *renewing) Allocated(ctx context.Context) ([]engine.Extent, error) {
	var out []engine.Extent
	err := r.do(ctx, func(t engine.Target) error {
		var err error
		out, err = t.Allocated(ctx)
		return err
	})
	return out, err
}
func (r *renewing) Flush(ctx context.Context) error {
	return r.do(ctx, func(t engine.Target) error { return t.Flush(ctx) })
}
func (r *renewing) WriteZeroes(ctx context.Context, off, n int64) error {
	return r.do(ctx, func(t engine.Target) error {
		if z, ok := t.(engine.Zeroer); ok {
			return z.WriteZeroes(ctx, off, n)
		}
		return t.WriteAt(ctx, make([]byte, n), off)
	})
}

// storageOptions are the driver's retries, with this mover's transport
// and the session's adaptive limits.
func (s *server) storageOptions(ro ReadOptions) azure.StorageOptions {
	s.limitsMu.Lock()
	if s.limits == nil {
		s.limits = azure.NewLimits(ro.RetryDelay, ro.MaxRetryDelay)
	}
	limits := s.limits
	s.limitsMu.Unlock()
	return azure.StorageOptions{MaxRetries: ro.MaxRetries, RetryDelay: ro.RetryDelay, MaxRetryDelay: ro.MaxRetryDelay,
		TryTimeout: ro.TryTimeout, Parallel: ro.Parallel, Transport: s.o.Transport, Limits: limits}
}

package mover

import (
	"context"
	"fmt"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
)

// The server's side of each call: the same Local operations a driver
// runs on a share, with the source opened here from the URL it was given.

func (s *server) local() *Local { return &Local{l: s.l} }

func (s *server) inspect(req inspectCall) Image {
	return Inspect(req.Image, req.Allocation, req.Lock)
}

func (s *server) sync(ctx context.Context, c *call, req syncCall) (engine.Stats, error) {
	src, closeSrc, err := s.openSource(ctx, c, req.Source)
	if err != nil {
		return engine.Stats{}, err
	}
	defer closeSrc()
	return s.local().Sync(ctx, req.Disk, req.Pass, req.Image, src, req.Options, func(p engine.Progress) { c.progress(p) })
}

func (s *server) verify(ctx context.Context, c *call, req verifyCall) (engine.Counters, error) {
	src, closeSrc, err := s.openSource(ctx, c, req.Source)
	if err != nil {
		return engine.Counters{}, err
	}
	defer closeSrc()
	return s.local().Verify(ctx, req.Image, src, req.Options, func(p engine.Progress) { c.progress(p) })
}

func (s *server) journals(req passCall) ([]int, error) {
	return s.local().Journals(req.Disk, req.Passes)
}

func (s *server) rollback(ctx context.Context, c *call, req passCall) (engine.RollbackStats, error) {
	if len(req.Passes) != 1 {
		return engine.RollbackStats{}, fmt.Errorf("%w: a rollback names one pass, not %d", ErrProtocol, len(req.Passes))
	}
	return s.local().Rollback(ctx, req.Disk, req.Passes[0], req.Image, req.TargetID, func(p engine.Progress) { c.progress(p) })
}

func (s *server) discard(req passCall) error { return s.local().Discard(req.Disk, req.Passes) }

func (s *server) forget(req passCall) error { return s.local().Forget(req.Disk) }

func (s *server) changed(ctx context.Context, c *call, req changedCall) ([]engine.Extent, error) {
	return s.local().Changed(ctx, req.Disk, req.Image, req.Threads, func(p engine.Progress) { c.progress(p) })
}

func (s *server) space() (Space, error) { return s.local().StateSpace() }

// reach opens the snapshot the URL reads and lists its allocation: the
// host can reach Azure storage, and the URL works from there.
func (s *server) reach(ctx context.Context, c *call, req Source) error {
	src, closeSrc, err := s.openSource(ctx, c, req)
	if err != nil {
		return err
	}
	defer closeSrc()
	_, err = src.Allocated(ctx)
	return err
}

// openSource opens the snapshot a call names, through its URL, asking
// the driver for a new one before it ends or when it is refused; an
// encrypted disk is decrypted here with the key the call carried.
func (s *server) openSource(ctx context.Context, c *call, spec Source) (engine.Source, func(), error) {
	defer clear(spec.Key)
	renew := func(ctx context.Context, force bool) (azure.Access, error) {
		var a access
		if err := c.ask(ctx, renewAsk{What: askRenew, Force: force}, &a); err != nil {
			return azure.Access{}, err
		}
		return accessOf(a.URL, a.ValidFor), nil
	}
	ro := spec.Read
	src, err := azure.OpenSnapshotURL(ctx, azure.URLSnapshot{Name: spec.Name, Size: spec.Size,
		Access: accessOf(spec.URL, spec.ValidFor), Renew: renew,
		Read: azure.StorageOptions{MaxRetries: ro.MaxRetries, RetryDelay: ro.RetryDelay, MaxRetryDelay: ro.MaxRetryDelay,
			TryTimeout: ro.TryTimeout, Parallel: ro.Parallel}})
	if err != nil {
		return nil, nil, err
	}
	if len(spec.Key) == 0 {
		return src, func() {}, nil
	}
	key, err := crypt.DataKeyFrom(spec.Key)
	if err != nil {
		return nil, nil, err
	}
	dec, err := crypt.DecryptingSource(src, key)
	if err != nil {
		key.Destroy()
		return nil, nil, err
	}
	return dec, key.Destroy, nil
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

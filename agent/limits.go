package agent

import (
	"container/list"
	"context"
	"sync"
)

// weighted is a FIFO weighted semaphore: the agent's memory budget in
// bytes. A request reserves all it will use at once, so requests never
// hold part of the budget while waiting for more (no deadlock), and FIFO
// order keeps a large request from starving.
type weighted struct {
	mu      sync.Mutex
	size    int64
	cur     int64
	waiters list.List // of *waiter
}

type waiter struct {
	n     int64
	ready chan struct{}
}

func newWeighted(size int64) *weighted { return &weighted{size: size} }

// acquire takes n (at most the size) or fails when ctx ends.
func (w *weighted) acquire(ctx context.Context, n int64) error {
	w.mu.Lock()
	if w.size-w.cur >= n && w.waiters.Len() == 0 {
		w.cur += n
		w.mu.Unlock()
		return nil
	}
	wt := &waiter{n: n, ready: make(chan struct{})}
	el := w.waiters.PushBack(wt)
	w.mu.Unlock()
	select {
	case <-wt.ready:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		select {
		case <-wt.ready:
			// Granted while we gave up: hand it back.
			w.cur -= n
			w.notify()
		default:
			w.waiters.Remove(el)
			w.notify()
		}
		w.mu.Unlock()
		return ctx.Err()
	}
}

// release gives n back.
func (w *weighted) release(n int64) {
	w.mu.Lock()
	w.cur -= n
	w.notify()
	w.mu.Unlock()
}

// notify grants waiters in order while they fit; w.mu is held.
func (w *weighted) notify() {
	for {
		el := w.waiters.Front()
		if el == nil {
			return
		}
		wt := el.Value.(*waiter)
		if w.size-w.cur < wt.n {
			return
		}
		w.cur += wt.n
		w.waiters.Remove(el)
		close(wt.ready)
	}
}

// ordered runs work(i, buf) for i in [0, n) on workers goroutines, each
// with a buffer of bufSize bytes of its own, and calls emit(i, v) from the
// calling goroutine in index order, as results arrive. At most window
// results are worked on or waiting to be emitted at a time, which bounds
// memory; the first error stops everything.
func ordered[T any](ctx context.Context, n, workers, window, bufSize int,
	work func(ctx context.Context, i int, buf []byte) (T, error),
	emit func(i int, v T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		v    T
		err  error
		done chan struct{}
	}
	res := make([]result, n)
	for i := range res {
		res[i].done = make(chan struct{})
	}
	slots := make(chan struct{}, window)
	next := make(chan int)
	var wg sync.WaitGroup
	// On any return, stop the producer and workers first, then wait.
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { // hands out indexes while the window has room
		defer wg.Done()
		defer close(next)
		for i := range n {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := getBuf(bufSize)
			defer putBuf(buf)
			for i := range next {
				res[i].v, res[i].err = work(ctx, i, buf)
				close(res[i].done)
			}
		}()
	}
	for i := range n {
		select {
		case <-res[i].done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if res[i].err != nil {
			return res[i].err
		}
		if err := emit(i, res[i].v); err != nil {
			return err
		}
		var zero T
		res[i].v = zero
		<-slots
	}
	return nil
}

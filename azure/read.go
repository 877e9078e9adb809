package azure

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/internal/backoff"
)

// readPolicy says how hard a ranged read tries on top of the pipeline's
// own retries, which cover failed requests but not a body cut short.
type readPolicy struct {
	// attempts is how many failures in a row (without any byte of
	// progress) a read survives.
	attempts int
	delay    time.Duration
	maxDelay time.Duration
}

func (s *Storage) readPolicy() readPolicy {
	return readPolicy{attempts: max(s.opts.MaxRetries, 0) + 1, delay: s.opts.RetryDelay, maxDelay: s.opts.MaxRetryDelay}
}

// ReadStats counts what a reader did, for tests, benchmarks and progress.
type ReadStats struct {
	Requests atomic.Int64 // ranged GETs sent (retries included)
	Bytes    atomic.Int64 // body bytes received
	Retries  atomic.Int64 // reads resumed after a transient failure
}

// downloadRange fills p from [off, off+len(p)) of the blob (or snapshot)
// pb addresses. A transient failure, including a body that ends early,
// resumes from the first missing byte; a permanent one (404, 401, 403,
// 416, the context ending) returns at once, wrapped.
func downloadRange(ctx context.Context, pb *pageblob.Client, obj string, p []byte, off int64, rp readPolicy, st *ReadStats) error {
	got, fails := 0, 0
	for got < len(p) {
		n, err := downloadOnce(ctx, pb, p[got:], off+int64(got), st)
		got += n
		if err == nil {
			continue
		}
		if permanent(ctx, err) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return wrapErr("read", obj, err)
		}
		if n > 0 {
			fails = 0
		}
		fails++
		if fails >= rp.attempts {
			return wrapErr("read", obj, err)
		}
		if st != nil {
			st.Retries.Add(1)
		}
		if err := backoff.Sleep(ctx, backoff.Delay(rp.delay, rp.maxDelay, fails)); err != nil {
			return err
		}
	}
	return nil
}

// downloadOnce sends one ranged GET and reads as much of the body as
// arrives; n bytes of p are valid even when err is not nil.
func downloadOnce(ctx context.Context, pb *pageblob.Client, p []byte, off int64, st *ReadStats) (int, error) {
	if st != nil {
		st.Requests.Add(1)
	}
	resp, err := pb.DownloadStream(ctx, &blob.DownloadStreamOptions{
		Range: blob.HTTPRange{Offset: off, Count: int64(len(p))},
	})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.ReadFull(resp.Body, p)
	if st != nil {
		st.Bytes.Add(int64(n))
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

package azurite

import (
	"bytes"
	"context"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/zeebo/xxh3"
)

// The front's diff reads the pages both snapshots hold. A snapshot never
// changes, so the checksum of each of its chunks is kept once read: the
// next pass's diff (whose older snapshot was this one's newer) reads only
// the newer snapshot, and the older one's chunks only where the sums
// differ. Chunks are read several at once.

// sumChunk is the unit whose checksum is kept; diffWorkers how many
// chunks are compared at once.
const (
	sumChunk    = 1 << 20
	diffWorkers = 8
	maxSums     = 1 << 20 // chunks remembered (about 64 MiB); then forgotten at once
)

// snapBlob is a blob client and the key its chunks' sums are kept under
// ("" for a live blob, which changes: never kept).
type snapBlob struct {
	pb  *pageblob.Client
	key string
}

// key names a snapshot for chunkSums ("" for the live blob).
func (b blobAt) key() string {
	if b.snapshot == "" {
		return ""
	}
	return b.container + "/" + b.name + "@" + b.snapshot
}

type sumKey struct {
	snap string
	off  int64
}

// chunkSums keeps the checksums of snapshots' chunks. Safe for concurrent
// use.
type chunkSums struct {
	mu sync.Mutex
	m  map[sumKey]xxh3.Uint128
}

func newChunkSums() *chunkSums { return &chunkSums{m: map[sumKey]xxh3.Uint128{}} }

func (c *chunkSums) get(snap string, off int64) (xxh3.Uint128, bool) {
	if c == nil || snap == "" {
		return xxh3.Uint128{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[sumKey{snap, off}]
	return s, ok
}

func (c *chunkSums) put(snap string, off int64, p []byte) xxh3.Uint128 {
	s := xxh3.Hash128(p)
	if c == nil || snap == "" {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxSums {
		clear(c.m)
	}
	c.m[sumKey{snap, off}] = s
	return s
}

// differingPages lists the 512-byte pages of [a, b) whose bytes differ
// between cur and prev.
func differingPages(ctx context.Context, sums *chunkSums, cur, prev snapBlob, a, b int64) ([]span, error) {
	var pieces []span
	for off := a; off < b; {
		end := min((off/sumChunk+1)*sumChunk, b)
		pieces = append(pieces, span{off, end})
		off = end
	}
	found := make([][]span, len(pieces))
	errs := make([]error, len(pieces))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(diffWorkers, len(pieces)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				found[i], errs[i] = differingPiece(ctx, sums, cur, prev, pieces[i])
			}
		}()
	}
	for i := range pieces {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	var out []span
	for i := range pieces {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for _, s := range found[i] {
			out = appendSpan(out, s)
		}
	}
	return out, ctx.Err()
}

// differingPiece compares one piece (at most a chunk): a whole chunk
// whose sums are known on both sides and agree is equal without reading.
func differingPiece(ctx context.Context, sums *chunkSums, cur, prev snapBlob, p span) ([]span, error) {
	n := p.end - p.off
	whole := p.off%sumChunk == 0 && n == sumChunk
	var x []byte
	if whole {
		sc, okc := sums.get(cur.key, p.off)
		if !okc {
			var err error
			if x, err = download(ctx, cur.pb, p.off, n); err != nil {
				return nil, err
			}
			sc = sums.put(cur.key, p.off, x)
		}
		if sp, ok := sums.get(prev.key, p.off); ok && sp == sc {
			return nil, nil
		}
	}
	if x == nil {
		var err error
		if x, err = download(ctx, cur.pb, p.off, n); err != nil {
			return nil, err
		}
	}
	y, err := download(ctx, prev.pb, p.off, n)
	if err != nil {
		return nil, err
	}
	if whole {
		sums.put(prev.key, p.off, y)
	}
	var out []span
	for q := int64(0); q < n; q += 512 {
		e := min(q+512, n)
		if !bytes.Equal(x[q:e], y[q:e]) {
			out = appendSpan(out, span{p.off + q, p.off + e})
		}
	}
	return out, nil
}

package agent

import (
	"bytes"
	"math/bits"
	"sort"
	"sync"

	"github.com/failback/failback/engine"
	"github.com/zeebo/xxh3"
)

// zeroChunk is compared against to find all-zero data without a buffer
// the size of a block.
var zeroChunk [64 << 10]byte

// isZero reports whether p holds only zero bytes.
func isZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(zeroChunk))
		if !bytes.Equal(p[:n], zeroChunk[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}

var zeroSums sync.Map // int64 length -> engine.Sum

// zeroSum is the checksum of n zero bytes, what the engine compares an
// all-zero block with; it is computed once per length by streaming zeros,
// so no block-sized buffer is needed.
func zeroSum(n int64) engine.Sum {
	if v, ok := zeroSums.Load(n); ok {
		return v.(engine.Sum)
	}
	h := xxh3.New()
	for left := n; left > 0; {
		k := min(left, int64(len(zeroChunk)))
		_, _ = h.Write(zeroChunk[:k])
		left -= k
	}
	s := engine.Sum(h.Sum128().Bytes())
	zeroSums.Store(n, s)
	return s
}

// overlaps reports whether any extent of the sorted, disjoint list alloc
// intersects [off, off+n).
func overlaps(alloc []engine.Extent, off, n int64) bool {
	i := sort.Search(len(alloc), func(i int) bool { return alloc[i].End() > off })
	return i < len(alloc) && alloc[i].Off < off+n
}

// bufPools recycle buffers by power-of-two size class, so streaming many
// blocks allocates once per worker rather than once per block.
var bufPools [40]sync.Pool

func sizeClass(n int) int { return bits.Len(uint(n - 1)) }

// getBuf returns a buffer of length n (capacity a power of two).
func getBuf(n int) []byte {
	c := sizeClass(n)
	if b, ok := bufPools[c].Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putBuf gives a buffer from getBuf back.
func putBuf(b []byte) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	b = b[:0]
	bufPools[sizeClass(c)].Put(&b)
}

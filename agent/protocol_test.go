package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/failback/failback/engine"
	"github.com/klauspost/compress/zstd"
)

func TestRunsRoundTripAndLimits(t *testing.T) {
	blocks := []int64{0, 1, 2, 7, 9, 10, 100}
	s := encodeRuns(blocks)
	if s != "0:3,7:1,9:2,100:1" {
		t.Fatalf("encodeRuns = %q", s)
	}
	runs, n, err := parseRuns(s, 101)
	if err != nil || n != len(blocks) {
		t.Fatalf("parseRuns: %v, %d blocks", err, n)
	}
	var back []int64
	for _, r := range runs {
		for b := r.first; b < r.first+r.count; b++ {
			back = append(back, b)
		}
	}
	if !slices.Equal(back, blocks) {
		t.Fatalf("round trip %v, want %v", back, blocks)
	}
	for _, bad := range []string{"", "1", "1:0", "-1:2", "0:2,x:1", "100:2", "0:5000", "9223372036854775807:1"} {
		if _, _, err := parseRuns(bad, 101); err == nil {
			t.Errorf("parseRuns(%q) accepted", bad)
		}
	}
}

// A request never carries more than MaxSumBlocks blocks or MaxRuns runs,
// and the chunks cover the list in order.
func TestRequestChunkRespectsLimits(t *testing.T) {
	var scattered []int64
	for b := int64(0); b < 3*MaxRuns; b++ {
		scattered = append(scattered, 2*b)
	}
	c := requestChunk(scattered)
	if len(c) != MaxRuns {
		t.Errorf("scattered chunk has %d blocks, want %d (one run each)", len(c), MaxRuns)
	}
	dense := make([]int64, 3*MaxSumBlocks)
	for i := range dense {
		dense[i] = int64(i)
	}
	if c := requestChunk(dense); len(c) != MaxSumBlocks {
		t.Errorf("dense chunk has %d blocks, want %d", len(c), MaxSumBlocks)
	}
}

func TestZeroSumMatchesHashOfZeros(t *testing.T) {
	for _, n := range []int64{512, 4096, 1 << 20, 1<<20 + 512, 3 << 20} {
		if zeroSum(n) != engine.HashBlock(make([]byte, n)) {
			t.Errorf("zeroSum(%d) differs from HashBlock of zeros", n)
		}
	}
}

// The memory budget grants in order, never more than its size, and a
// waiter that gives up leaves nothing taken.
func TestWeightedBudget(t *testing.T) {
	w := newWeighted(10)
	ctx := context.Background()
	if err := w.acquire(ctx, 7); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.acquire(short, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire past the budget: %v", err)
	}
	got := make(chan struct{})
	go func() { _ = w.acquire(ctx, 8); close(got) }()
	time.Sleep(10 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("granted 8 with 3 free")
	default:
	}
	w.release(7)
	<-got
	w.release(8)
	if w.cur != 0 || w.waiters.Len() != 0 {
		t.Fatalf("budget left at %d with %d waiters", w.cur, w.waiters.Len())
	}
}

// ordered emits in index order whatever order work finishes in, and
// stops at the first error.
func TestOrderedEmitsInOrderAndStopsOnError(t *testing.T) {
	var out []int
	err := ordered(context.Background(), 50, 4, 8, 16,
		func(_ context.Context, i int, _ []byte) (int, error) {
			time.Sleep(time.Duration(50-i) * 50 * time.Microsecond)
			return i, nil
		},
		func(i, v int) error { out = append(out, v); return nil })
	if err != nil || len(out) != 50 || !slices.IsSorted(out) {
		t.Fatalf("err %v, out %v", err, out)
	}
	boom := errors.New("boom")
	err = ordered(context.Background(), 50, 4, 8, 16,
		func(_ context.Context, i int, _ []byte) (int, error) {
			if i == 20 {
				return 0, boom
			}
			return i, nil
		},
		func(i, v int) error { return nil })
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
}

// fuzzSource is a Source with just what readFrame needs.
func fuzzSource(t testing.TB) *Source {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxFrame), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dec.Close)
	return &Source{o: Options{FrameSize: MinFrame}, dec: dec}
}

// Whatever bytes arrive, readFrame never panics, and it accepts a frame
// only if its bytes hash to the checksum it carries.
func FuzzReadFrame(f *testing.F) {
	plain := bytes.Repeat([]byte("abcd"), 1024)
	sum := engine.HashBlock(plain)
	enc, _ := zstd.NewWriter(nil)
	z := enc.EncodeAll(plain, nil)
	good := binary.LittleEndian.AppendUint32([]byte{kindZstd}, uint32(len(plain)))
	good = binary.LittleEndian.AppendUint32(good, uint32(len(z)))
	good = append(append(good, sum[:]...), z...)
	f.Add(good)
	f.Add(binary.LittleEndian.AppendUint32([]byte{kindZero}, 4096))
	f.Add([]byte{kindError, 1, 3, 0, 'b', 'a', 'd'})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzSource(t)
		dst := make([]byte, 4096)
		err := s.readFrame(bufio.NewReader(bytes.NewReader(data)), dst)
		if err != nil || data[0] == kindZero {
			return
		}
		var want engine.Sum
		copy(want[:], data[9:25])
		if engine.HashBlock(dst) != want {
			t.Fatal("accepted a frame whose bytes do not match its checksum")
		}
	})
}

// The blocks the engine asks sums for: those touching an allocated byte,
// each once, ascending, from a starting block.
func TestAllocatedBlocksFollowsTheEngine(t *testing.T) {
	alloc := []engine.Extent{{Off: 0, Len: 100}, {Off: 4000, Len: 200}, {Off: 4300, Len: 10}, {Off: 20480, Len: 8192}}
	got := allocatedBlocks(alloc, 4096, 40960, 0, 100)
	if want := []int64{0, 1, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("blocks %v, want %v", got, want)
	}
	if got := allocatedBlocks(alloc, 4096, 40960, 2, 1); !slices.Equal(got, []int64{5}) {
		t.Fatalf("from 2, limit 1: %v", got)
	}
	if got := allocatedBlocks(alloc, 4096, 40960, 7, 10); len(got) != 0 {
		t.Fatalf("past the last extent: %v", got)
	}
}

package agent

import (
	"bytes"
	"context"
	"testing"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/engine/enginetest"
)

// phase1Setup is a fully written disk in Azure whose snapshot differs
// from the on-premises copy in the given blocks.
type phase1Setup struct {
	disk    *testDisk
	snap    string
	azure   []byte              // the snapshot's content
	onPrem  *enginetest.MemDisk // the old content
	changed []int64
}

// newPhase1 writes size bytes of incompressible data to a disk, snapshots
// it, and makes an on-premises copy where the changed blocks hold other
// (equally incompressible) data.
func newPhase1(t testing.TB, size, bs int64, changed []int64) *phase1Setup {
	t.Helper()
	st := newStorage(t, nil)
	d := newDisk(t, st, size)
	data := randomBytes(1, int(size))
	d.put(t, data, 0)
	snap := d.snapshot(t)
	old := bytes.Clone(data)
	for i, b := range changed {
		copy(old[b*bs:], randomBytes(uint64(100+i), int(bs)))
	}
	onPrem := enginetest.NewMemDisk(size, 0)
	if err := onPrem.WriteAt(context.Background(), old, 0); err != nil {
		t.Fatal(err)
	}
	return &phase1Setup{disk: d, snap: snap, azure: data, onPrem: onPrem, changed: changed}
}

// The proof: a phase-1 delta sync of a 100 MiB disk with 1% of
// its 1 MiB blocks changed moves, over the agent link as counted at the
// TCP level, at most the changed blocks plus the checksum list plus 5%,
// and the on-premises disk ends byte for byte equal to the snapshot.
func TestPhase1DeltaThroughAgentMovesOnlyChangedBlocks(t *testing.T) {
	const size, bs = 100 * mib, mib
	p := newPhase1(t, size, bs, []int64{42})
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, nil)
	var wire wireCounter
	o := a.options(p.disk, p.snap)
	o.DialContext = wire.dial
	ctx := context.Background()
	src, err := NewSource(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, err := engine.Sync(ctx, src, p.onPrem, engine.Options{Mode: engine.Delta, BlockSize: bs, JournalDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.onPrem.Bytes(), p.azure) {
		t.Fatal("on-premises disk differs from the snapshot after the sync")
	}
	if st.BlocksDiffered != 1 || st.BytesTransferred != bs {
		t.Errorf("engine moved %d blocks (%d bytes), want exactly the 1 changed block", st.BlocksDiffered, st.BytesTransferred)
	}
	nblocks := int64(size / bs)
	checksumList := nblocks * 17 // kind byte + 16-byte sum per allocated block
	limit := (bs + checksumList) * 105 / 100
	cs := src.Stats()
	t.Logf("wire %d bytes (client counted %d in, %d out); limit %d; engine read %d source bytes; agent checked %d bytes",
		wire.total(), cs.WireIn, cs.WireOut, limit, st.BytesReadSource, cs.CheckedBytes)
	if wire.total() > limit {
		t.Errorf("%d bytes crossed the agent link, more than the changed block + checksum list + 5%% (%d)", wire.total(), limit)
	}
	if cs.WireBytes() != wire.total() {
		t.Errorf("client counts %d wire bytes, the link saw %d", cs.WireBytes(), wire.total())
	}
	if cs.CheckedBytes != size {
		t.Errorf("agent checked %d bytes in Azure, want the whole allocated disk %d", cs.CheckedBytes, size)
	}
	if cs.FallbackHashedBytes != 0 || cs.FallbackReadBytes != 0 || cs.Retries != 0 {
		t.Errorf("unexpected fallback or retries: %+v", cs)
	}
}

// Zero regions cost about nothing: blocks the guest filled with zeros
// (allocated pages) and never-written blocks come over as one-byte
// markers in the checksum list and as 5-byte zero frames in reads, while
// the target, which held data there, ends up zero.
func TestZeroRegionsCrossTheLinkAsMarkers(t *testing.T) {
	const size, bs = 32 * mib, mib
	st := newStorage(t, nil)
	d := newDisk(t, st, size)
	want := make([]byte, size)
	copy(want[8*mib:16*mib], randomBytes(2, 8*mib))
	d.put(t, want[:24*mib], 0) // [0, 8) and [16, 24) MiB written as zeros; [24, 32) never written
	snap := d.snapshot(t)
	onPrem := enginetest.NewMemDisk(size, 0)
	ctx := context.Background()
	old := randomBytes(3, size)
	copy(old[8*mib:16*mib], want[8*mib:16*mib]) // the data region is unchanged
	if err := onPrem.WriteAt(ctx, old, 0); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, nil)
	var wire wireCounter
	o := a.options(d, snap)
	o.DialContext = wire.dial
	src, err := NewSource(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	stats, err := engine.Sync(ctx, src, onPrem, engine.Options{BlockSize: bs, NoJournal: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onPrem.Bytes(), want) {
		t.Fatal("target differs from the snapshot")
	}
	if stats.BlocksDiffered != 24 {
		t.Errorf("%d blocks differed, want the 24 zero blocks", stats.BlocksDiffered)
	}
	if w := wire.total(); w > 16<<10 {
		t.Errorf("zeroing 24 MiB cost %d bytes on the link, want a few KiB", w)
	}
	// Reading the zero region directly: every frame is a marker.
	before := wire.total()
	p := make([]byte, 16*mib)
	if err := src.ReadAt(ctx, p, 16*mib); err != nil {
		t.Fatal(err)
	}
	if !isZero(p) {
		t.Fatal("zero region read back non-zero")
	}
	cs := src.Stats()
	if cs.ZeroBytes != 16*mib || cs.PayloadBytes != 0 {
		t.Errorf("zero bytes %d, payload %d: want 16 MiB of markers and no payload", cs.ZeroBytes, cs.PayloadBytes)
	}
	if w := wire.total() - before; w > 8<<10 {
		t.Errorf("reading 16 MiB of zeros cost %d bytes on the link", w)
	}
}

// Compressible blocks are sent compressed and arrive intact; Stats shows
// what compression saved.
func TestBlocksAreSentCompressedAndChecked(t *testing.T) {
	const size = 8 * mib
	st := newStorage(t, nil)
	d := newDisk(t, st, size)
	line := []byte("failback moves only the blocks that changed. ")
	text := bytes.Repeat(line, size/len(line)+1)[:size]
	copy(text[3*mib:], randomBytes(4, mib)) // one incompressible MiB: sent raw
	d.put(t, text, 0)
	snap := d.snapshot(t)
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, nil)
	ctx := context.Background()
	src, err := NewSource(ctx, a.options(d, snap))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := make([]byte, size)
	// Unaligned on purpose: frames start where the read starts.
	if err := src.ReadAt(ctx, got[1000:], 1000); err != nil {
		t.Fatal(err)
	}
	if err := src.ReadAt(ctx, got[:1000], 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, text) {
		t.Fatal("read through the agent differs from the snapshot")
	}
	cs := src.Stats()
	t.Logf("block bytes %d, payload %d, saved %d, wire %d", cs.BlockBytes, cs.PayloadBytes, cs.CompressionSaved(), cs.WireBytes())
	if cs.BlockBytes != size || cs.PayloadBytes > 3*mib/2 || cs.PayloadBytes < mib {
		t.Errorf("payload %d of %d block bytes: want about the one random MiB (sent raw) plus a little", cs.PayloadBytes, cs.BlockBytes)
	}
	if cs.WireBytes() > cs.PayloadBytes+64<<10 {
		t.Errorf("wire %d bytes for %d payload bytes", cs.WireBytes(), cs.PayloadBytes)
	}
}

// Read-ahead: while the engine works on one batch, the agent already
// computes the next windows, and the engine's next call is answered from
// them without asking again. Calls out of sequence (a verify starting
// over) are still answered right.
func TestChecksumReadAheadAnswersTheNextBatch(t *testing.T) {
	const size, bs = 4 * mib, 4 << 10
	st := newStorage(t, nil)
	d := newDisk(t, st, size)
	data := randomBytes(7, size)
	d.put(t, data, 0)
	snap := d.snapshot(t)
	a := startAgent(t, newStorage(t, nil), ServerOptions{}, nil)
	ctx := context.Background()
	src, err := NewSource(ctx, a.options(d, snap))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	check := func(first, n int64) {
		t.Helper()
		blocks := make([]int64, n)
		for i := range blocks {
			blocks[i] = first + int64(i)
		}
		sums, err := src.HashBlocks(ctx, bs, blocks)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range blocks {
			if sums[i] != engine.HashBlock(data[b*bs:(b+1)*bs]) {
				t.Fatalf("block %d: wrong sum", b)
			}
		}
	}
	check(0, 256)
	waitUntil(t, "the read-ahead windows", func() bool { return a.srv.Stats().SumsServed == 768 })
	check(256, 200)
	check(456, 100)
	waitUntil(t, "the next window", func() bool { return a.srv.Stats().SumsServed == 1024 })
	if got := a.srv.Stats().SumsServed; got != 1024 {
		t.Fatalf("agent computed %d sums for 556 asked and 468 ahead, want each of the 1024 blocks once", got)
	}
	check(0, 10) // starting over, as a verify does
	if cs := src.Stats(); cs.CheckedBytes != (556+10)*bs {
		t.Errorf("checked %d bytes, want the %d bytes handed to the engine", cs.CheckedBytes, (556+10)*bs)
	}
}

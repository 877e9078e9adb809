package crypt

import (
	"bytes"
	"context"
	"crypto/aes"
	"errors"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/engine"
	"golang.org/x/crypto/xts"
)

// A disk size with a short last unit (3 sectors past a unit boundary).
const testDiskSize = 2<<20 + 3*512

func newEncTarget(t testing.TB, dst engine.Target, key *DataKey) engine.Target {
	t.Helper()
	et, err := EncryptingTarget(dst, key)
	if err != nil {
		t.Fatal(err)
	}
	return et
}

func newDecSource(t testing.TB, src engine.Source, key *DataKey) engine.Source {
	t.Helper()
	ds, err := DecryptingSource(src, key)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// randomWrites applies scattered writes (aligned and not, some all-zero)
// through et and to the model.
func randomWrites(t *testing.T, et engine.Target, model []byte, r *mrand.Rand, n int) {
	t.Helper()
	ctx := context.Background()
	size := int64(len(model))
	for i := 0; i < n; i++ {
		var off, ln int64
		switch r.IntN(3) {
		case 0: // aligned units
			ln = int64(1+r.IntN(24)) * UnitSize
			off = r.Int64N(size/UnitSize) * UnitSize
		case 1: // unaligned, small
			ln = 1 + r.Int64N(3*UnitSize)
			off = r.Int64N(size)
		default: // unaligned, large
			ln = 1 + r.Int64N(80*UnitSize)
			off = r.Int64N(size)
		}
		ln = min(ln, size-off)
		p := make([]byte, ln)
		if r.IntN(4) != 0 {
			for j := range p {
				p[j] = byte(r.Uint32())
			}
		}
		if err := et.WriteAt(ctx, p, off); err != nil {
			t.Fatalf("write [%d,%d): %v", off, off+ln, err)
		}
		copy(model[off:], p)
	}
}

// Random scattered writes through EncryptingTarget read back identical
// through DecryptingSource and the target's own ReadAt, whole and in random
// unaligned ranges; the raw bytes are ciphertext.
func TestEncryptDecryptRoundTrip(t *testing.T) {
	ctx := context.Background()
	key := testKey(t, 1)
	disk := newMemDisk(testDiskSize)
	et := newEncTarget(t, disk, key)
	model := make([]byte, testDiskSize)
	r := mrand.New(mrand.NewPCG(3, 4))
	randomWrites(t, et, model, r, 300)
	// The very end: the short last unit, partially.
	tail := bytes.Repeat([]byte{0xAB}, 700)
	if err := et.WriteAt(ctx, tail, testDiskSize-700); err != nil {
		t.Fatal(err)
	}
	copy(model[testDiskSize-700:], tail)

	src := newDecSource(t, disk, key)
	got := make([]byte, testDiskSize)
	if err := src.ReadAt(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, model) {
		t.Fatal("decrypted disk differs from what was written")
	}
	for i := 0; i < 300; i++ {
		off := r.Int64N(testDiskSize)
		n := min(1+r.Int64N(5*UnitSize), testDiskSize-off)
		p := make([]byte, n)
		if err := src.ReadAt(ctx, p, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, model[off:off+n]) {
			t.Fatalf("source read [%d,%d) differs", off, off+n)
		}
		if err := et.ReadAt(ctx, p, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, model[off:off+n]) {
			t.Fatalf("target read [%d,%d) differs", off, off+n)
		}
	}
	// Ciphertext: no non-zero unit is stored as its plaintext, and a unit
	// is x/crypto/xts of its plaintext with sector number = offset/4096.
	raw := disk.snapshot()
	ref, _ := xts.NewCipher(aes.NewCipher, testKeyBytes(1))
	checked := 0
	for off := int64(0); off < testDiskSize; off += UnitSize {
		// The last unit is short (testDiskSize ends 1536 bytes into it).
		end := min(off+UnitSize, testDiskSize)
		pt, ct := model[off:end], raw[off:end]
		if isZero(pt) {
			if !isZero(ct) {
				t.Fatalf("unit %d: zero plaintext not stored as a hole", off/UnitSize)
			}
			continue
		}
		if bytes.Equal(pt, ct) {
			t.Fatalf("unit %d stored in clear", off/UnitSize)
		}
		want := make([]byte, len(pt))
		ref.Encrypt(want, pt, uint64(off/UnitSize))
		if !bytes.Equal(ct, want) {
			t.Fatalf("unit %d is not XTS with sector number %d", off/UnitSize, off/UnitSize)
		}
		checked++
	}
	if checked < 100 {
		t.Fatalf("only %d data units: the test wrote too little", checked)
	}
}

func testKeyBytes(seed byte) []byte {
	b := make([]byte, KeySize)
	for i := range b {
		b[i] = seed + byte(i)*13
	}
	return b
}

// Decrypting with another key gives other bytes: the data needs its key.
func TestCiphertextUnreadableWithoutKey(t *testing.T) {
	ctx := context.Background()
	disk := newMemDisk(1 << 20)
	et := newEncTarget(t, disk, testKey(t, 1))
	plain := bytes.Repeat([]byte("failback plaintext "), 1<<20/19+1)[:1<<20]
	if err := et.WriteAt(ctx, plain, 0); err != nil {
		t.Fatal(err)
	}
	raw := disk.snapshot()
	if bytes.Contains(raw, []byte("failback plaintext")) {
		t.Fatal("plaintext visible in the ciphertext")
	}
	wrong := make([]byte, 1<<20)
	if err := newDecSource(t, disk, testKey(t, 2)).ReadAt(ctx, wrong, 0); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrong, []byte("failback plaintext")) {
		t.Fatal("another key reveals plaintext")
	}
	same := 0
	for i := range wrong {
		if wrong[i] == plain[i] {
			same++
		}
	}
	if same > len(wrong)/100 { // random bytes agree 1/256 of the time
		t.Fatalf("another key gives %d of %d bytes right", same, len(wrong))
	}
}

// All-zero plaintext units are holes: cleared on the target (not encrypted
// zeros, not allocated), zero ciphertext, zero plaintext on read.
func TestZeroUnitsStayHoles(t *testing.T) {
	ctx := context.Background()
	key := testKey(t, 1)
	disk := newMemDisk(1 << 20)
	et := newEncTarget(t, disk, key)
	data := bytes.Repeat([]byte{7}, 1<<20)
	if err := et.WriteAt(ctx, data, 0); err != nil {
		t.Fatal(err)
	}
	// A whole zero write over data: cleared.
	if err := et.WriteAt(ctx, make([]byte, 8*UnitSize), 16*UnitSize); err != nil {
		t.Fatal(err)
	}
	if disk.allocated(16*UnitSize, 8*UnitSize) {
		t.Fatal("an all-zero write left allocated pages")
	}
	// A long zero run inside a data write: cleared too.
	p := bytes.Repeat([]byte{9}, 64*UnitSize)
	clear(p[8*UnitSize : 40*UnitSize])
	if err := et.WriteAt(ctx, p, 64*UnitSize); err != nil {
		t.Fatal(err)
	}
	if disk.allocated((64+8)*UnitSize, 32*UnitSize) {
		t.Fatal("a 32-unit zero run inside a write was not cleared")
	}
	if !disk.allocated(64*UnitSize, 8*UnitSize) || !disk.allocated((64+40)*UnitSize, 24*UnitSize) {
		t.Fatal("data units around the hole are missing")
	}
	// A short zero run inside data: zero ciphertext in line, one write.
	q := bytes.Repeat([]byte{5}, 8*UnitSize)
	clear(q[3*UnitSize : 4*UnitSize])
	before := disk.writes
	if err := et.WriteAt(ctx, q, 160*UnitSize); err != nil {
		t.Fatal(err)
	}
	if disk.writes != before+1 {
		t.Fatalf("a block with one zero unit took %d writes, want 1", disk.writes-before)
	}
	raw := disk.snapshot()
	if !isZero(raw[163*UnitSize : 164*UnitSize]) {
		t.Fatal("a zero unit was encrypted")
	}
	// A partial write that zeroes the rest of a unit makes it a hole.
	if err := et.WriteAt(ctx, make([]byte, UnitSize-100), 200*UnitSize+100); err != nil {
		t.Fatal(err)
	}
	if err := et.WriteAt(ctx, make([]byte, 100), 200*UnitSize); err != nil {
		t.Fatal(err)
	}
	if !isZero(disk.snapshot()[200*UnitSize : 201*UnitSize]) {
		t.Fatal("a unit zeroed by two partial writes is not a hole")
	}
	want := append([]byte(nil), data...)
	clear(want[16*UnitSize : 24*UnitSize])
	copy(want[64*UnitSize:], p)
	copy(want[160*UnitSize:], q)
	clear(want[200*UnitSize : 201*UnitSize])
	got := make([]byte, 1<<20)
	if err := newDecSource(t, disk, key).ReadAt(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("holes do not read back as zeros")
	}
}

// WriteZeroes: aligned ranges are cleared on the target, partial units are
// rewritten with zeros, the rest of their unit kept.
func TestWriteZeroesAlignedAndPartial(t *testing.T) {
	ctx := context.Background()
	key := testKey(t, 3)
	for _, name := range []string{"zeroer", "plain"} {
		t.Run(name, func(t *testing.T) {
			disk := newMemDisk(testDiskSize)
			var dst engine.Target = disk
			if name == "plain" {
				dst = plainTarget{disk}
				if _, ok := dst.(engine.Zeroer); ok {
					t.Fatal("plainTarget must not be a Zeroer")
				}
			}
			et := newEncTarget(t, dst, key)
			model := bytes.Repeat([]byte{0x5A}, testDiskSize)
			if err := et.WriteAt(ctx, model, 0); err != nil {
				t.Fatal(err)
			}
			z := et.(engine.Zeroer)
			for _, r := range [][2]int64{{100, 50}, {UnitSize - 10, 3*UnitSize + 20}, {8 * UnitSize, 16 * UnitSize}, {testDiskSize - 1000, 1000}} {
				if err := z.WriteZeroes(ctx, r[0], r[1]); err != nil {
					t.Fatal(err)
				}
				clear(model[r[0] : r[0]+r[1]])
			}
			if name == "zeroer" && disk.allocated(8*UnitSize, 16*UnitSize) {
				t.Fatal("aligned WriteZeroes left pages allocated")
			}
			got := make([]byte, testDiskSize)
			if err := et.ReadAt(ctx, got, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, model) {
				t.Fatal("WriteZeroes result differs")
			}
		})
	}
}

// Concurrent unaligned writes that share units never lose each other's
// bytes (read-modify-write is serialised per unit).
func TestConcurrentPartialWritesKeepEveryByte(t *testing.T) {
	ctx := context.Background()
	key := testKey(t, 4)
	disk := newMemDisk(64 * UnitSize)
	et := newEncTarget(t, disk, key)
	const workers, stripe = 8, 100
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w owns bytes where (off/stripe)%workers == w.
			for off := int64(w * stripe); off < 64*UnitSize; off += workers * stripe {
				n := min(int64(stripe), 64*UnitSize-off)
				if err := et.WriteAt(ctx, bytes.Repeat([]byte{byte(w + 1)}, int(n)), off); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := make([]byte, 64*UnitSize)
	if err := et.ReadAt(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if want := byte((i/stripe)%workers + 1); b != want {
			t.Fatalf("byte %d is %d, want %d: a concurrent write was lost", i, b, want)
		}
	}
}

// DecryptingSource never passes BlockHasher through (checksums must be over
// plaintext); Allocated passes through.
func TestDecryptingSourceHidesBlockHasher(t *testing.T) {
	disk := newMemDisk(1 << 20)
	var src engine.Source = hashingSource{disk}
	if _, ok := src.(engine.BlockHasher); !ok {
		t.Fatal("test source must be a BlockHasher")
	}
	ds := newDecSource(t, src, testKey(t, 1))
	if _, ok := ds.(engine.BlockHasher); ok {
		t.Fatal("DecryptingSource exposes the ciphertext hasher")
	}
	if err := disk.WriteAt(context.Background(), []byte{1}, 5000); err != nil {
		t.Fatal(err)
	}
	ext, err := ds.Allocated(context.Background())
	if err != nil || len(ext) != 1 || ext[0].Off != 4608 {
		t.Fatalf("Allocated = %v, %v; want the source's one page at 4608", ext, err)
	}
}

func TestWrappersRefuseBadInput(t *testing.T) {
	ctx := context.Background()
	k := testKey(t, 1)
	if _, err := DecryptingSource(newMemDisk(1000), k); !errors.Is(err, ErrUnaligned) {
		t.Fatalf("odd size: %v", err)
	}
	et := newEncTarget(t, newMemDisk(UnitSize), k)
	if err := et.WriteAt(ctx, []byte{1, 2}, UnitSize-1); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("write past the end: %v", err)
	}
	if err := et.ReadAt(ctx, make([]byte, 2), -1); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("read before the start: %v", err)
	}
	k.Destroy()
	if _, err := EncryptingTarget(newMemDisk(UnitSize), k); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("destroyed key: %v", err)
	}
}

// blockingDisk is a memDisk whose writes wait until release is closed.
type blockingDisk struct {
	*memDisk
	started chan struct{}
	release chan struct{}
}

func (b *blockingDisk) WriteAt(ctx context.Context, p []byte, off int64) error {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-b.release
	return b.memDisk.WriteAt(ctx, p, off)
}

// A write waiting for a neighbour's read-modify-write of the same unit
// returns as soon as its context ends, not when the neighbour's (stuck)
// write finally does.
func TestWaitingWriteHonoursItsContext(t *testing.T) {
	disk := &blockingDisk{memDisk: newMemDisk(4 * UnitSize), started: make(chan struct{}, 1), release: make(chan struct{})}
	et := newEncTarget(t, disk, testKey(t, 5))
	first := make(chan error, 1)
	go func() { first <- et.WriteAt(context.Background(), []byte{1, 2, 3}, 100) }()
	<-disk.started // the first write holds unit 0 and is stuck
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- et.WriteAt(ctx, []byte{4, 5, 6}, 200) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled write kept waiting for its neighbour")
	}
	close(disk.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

package crypt

import (
	"context"
	"fmt"
	"sync"

	"github.com/failback/failback/engine"
)

// HoleMinUnits is the shortest run of all-zero units, inside a write that
// also carries data, that EncryptingTarget clears with WriteZeroes instead
// of writing zero bytes in line. Both read back as zero (zero ciphertext is
// a hole); the threshold keeps a block with scattered zero units one write
// rather than dozens of alternating upload and clear calls against Azure.
// A write whose units are all zero is always cleared, whatever its length.
const HoleMinUnits = 16

// zeroChunk bounds the buffer used to write zeros to a target that has no
// WriteZeroes.
const zeroChunk = 1 << 20

// EncryptingTarget returns a Target that encrypts what is written to dst and
// decrypts what is read from it.
//
//   - WriteAt encrypts per 4 KiB unit; a write that covers part of a unit
//     reads the unit back, merges and rewrites it (read-modify-write).
//   - All-zero plaintext units are not encrypted: they become holes, cleared
//     with dst's WriteZeroes when dst is an engine.Zeroer, else written as
//     zero bytes (zero ciphertext reads back as zero plaintext either way).
//   - The returned Target is always an engine.Zeroer: aligned ranges pass to
//     dst's WriteZeroes (or zero bytes), partial units are read-modify-write.
//   - ReadAt decrypts; Allocated and Flush pass through.
//
// It is safe for concurrent use: writes that touch a common unit are
// serialised, so read-modify-write never loses a neighbour's bytes.
func EncryptingTarget(dst engine.Target, key *DataKey) (engine.Target, error) {
	c, err := newUnitCipher(key)
	if err != nil {
		return nil, err
	}
	if dst.Size()%512 != 0 {
		return nil, fmt.Errorf("crypt: encrypting target: %w (%d bytes)", ErrUnaligned, dst.Size())
	}
	t := &encTarget{dst: dst, c: c}
	t.z, _ = dst.(engine.Zeroer)
	t.locks.cond = sync.NewCond(&t.locks.mu)
	return t, nil
}

type encTarget struct {
	dst   engine.Target
	z     engine.Zeroer // nil when dst cannot clear
	c     *unitCipher
	locks unitLocks
}

func (t *encTarget) Size() int64 { return t.dst.Size() }

func (t *encTarget) Allocated(ctx context.Context) ([]engine.Extent, error) {
	return t.dst.Allocated(ctx)
}

func (t *encTarget) Flush(ctx context.Context) error { return t.dst.Flush(ctx) }

func (t *encTarget) ReadAt(ctx context.Context, p []byte, off int64) error {
	return readDecrypted(ctx, t.dst.ReadAt, t.c, t.dst.Size(), p, off)
}

func (t *encTarget) WriteAt(ctx context.Context, p []byte, off int64) error {
	size := t.dst.Size()
	if err := checkRange(size, off, int64(len(p))); err != nil {
		return err
	}
	if len(p) == 0 {
		return ctx.Err()
	}
	a0, a1 := unitSpan(size, off, int64(len(p)))
	if err := t.locks.lock(ctx, a0, a1); err != nil {
		return err
	}
	defer t.locks.unlock(a0, a1)
	return t.writeLocked(ctx, p, off, a0, a1)
}

// writeLocked writes p at off; [a0, a1) is its unit span, already locked.
func (t *encTarget) writeLocked(ctx context.Context, p []byte, off, a0, a1 int64) error {
	// Every byte of buf is overwritten below: by p, or by the current
	// plaintext of a partial head or tail unit.
	bp := getSpan(a1 - a0)
	defer putSpan(bp)
	buf := *bp
	end := off + int64(len(p))
	// Partial head or tail unit: start from the plaintext already there.
	if off > a0 {
		if err := t.readUnit(ctx, buf, a0, a0); err != nil {
			return err
		}
	}
	if last := max(a0, (a1-1)/UnitSize*UnitSize); end < a1 && (last > a0 || off == a0) {
		if err := t.readUnit(ctx, buf, a0, last); err != nil {
			return err
		}
	}
	copy(buf[off-a0:], p)
	holes := t.c.encryptUnits(buf, a0, make([]bool, 0, len(buf)/UnitSize+1))
	return t.emit(ctx, buf, a0, holes)
}

// readUnit fills the unit at u (inside the span starting at a0) with its
// current plaintext.
func (t *encTarget) readUnit(ctx context.Context, buf []byte, a0, u int64) error {
	n := min(UnitSize, t.dst.Size()-u)
	unit := buf[u-a0 : u-a0+n]
	if err := t.dst.ReadAt(ctx, unit, u); err != nil {
		return fmt.Errorf("crypt: reading unit %d for a partial write: %w", u/UnitSize, err)
	}
	t.c.decryptUnits(unit, u)
	return nil
}

// emit writes encrypted units, clearing runs of holes (see HoleMinUnits).
func (t *encTarget) emit(ctx context.Context, buf []byte, a0 int64, holes []bool) error {
	allHoles := true
	for _, h := range holes {
		allHoles = allHoles && h
	}
	if allHoles {
		return t.clear(ctx, a0, int64(len(buf)))
	}
	// A hole run of HoleMinUnits or more is cleared; data runs absorb the
	// shorter hole runs between them (written as zero bytes).
	i := 0
	for i < len(holes) {
		if j := holeRun(holes, i); j-i >= HoleMinUnits {
			if err := t.clear(ctx, a0+int64(i)*UnitSize, spanLen(buf, i, j)); err != nil {
				return err
			}
			i = j
			continue
		}
		j := i
		for j < len(holes) {
			if !holes[j] {
				j++
				continue
			}
			k := holeRun(holes, j)
			if k-j >= HoleMinUnits {
				break
			}
			j = k
		}
		s := int64(i) * UnitSize
		if err := t.dst.WriteAt(ctx, buf[s:s+spanLen(buf, i, j)], a0+s); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// holeRun returns the end of the run of holes starting at i (i if none).
func holeRun(holes []bool, i int) int {
	for i < len(holes) && holes[i] {
		i++
	}
	return i
}

// spanLen is the byte length of units [i, j) of buf (the last may be short).
func spanLen(buf []byte, i, j int) int64 {
	return min(int64(j)*UnitSize, int64(len(buf))) - int64(i)*UnitSize
}

// clear makes [off, off+n), whole units, a hole on dst.
func (t *encTarget) clear(ctx context.Context, off, n int64) error {
	if t.z != nil {
		return t.z.WriteZeroes(ctx, off, n)
	}
	zeros := make([]byte, min(n, zeroChunk))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if err := t.dst.WriteAt(ctx, zeros[:k], off); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}

// WriteZeroes makes [off, off+n) read as zero plaintext: whole units become
// holes, partial units at either end are read-modify-written.
func (t *encTarget) WriteZeroes(ctx context.Context, off, n int64) error {
	size := t.dst.Size()
	if err := checkRange(size, off, n); err != nil {
		return err
	}
	if n == 0 {
		return ctx.Err()
	}
	a0, a1 := unitSpan(size, off, n)
	if err := t.locks.lock(ctx, a0, a1); err != nil {
		return err
	}
	defer t.locks.unlock(a0, a1)
	end := off + n
	// Whole units inside the range.
	w0 := (off + UnitSize - 1) / UnitSize * UnitSize
	w1 := end / UnitSize * UnitSize
	if end == size {
		w1 = size
	}
	if w0 >= w1 { // inside one unit (or two partial ones)
		return t.writeLocked(ctx, make([]byte, n), off, a0, a1)
	}
	if off < w0 {
		if err := t.writeLocked(ctx, make([]byte, w0-off), off, a0, w0); err != nil {
			return err
		}
	}
	if err := t.clear(ctx, w0, w1-w0); err != nil {
		return err
	}
	if w1 < end {
		return t.writeLocked(ctx, make([]byte, end-w1), w1, w1, a1)
	}
	return nil
}

// unitLocks serialises writes whose unit spans overlap. Writes of distinct
// blocks (the engine's normal case) never wait for each other.
type unitLocks struct {
	mu     sync.Mutex
	cond   *sync.Cond
	active [][2]int64
}

func (l *unitLocks) lock(ctx context.Context, a0, a1 int64) error {
	// A cancelled waiter must not wait for the holder's write to end (it
	// may be stuck in retries): wake the waiters when ctx ends.
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.cond.Broadcast()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.overlaps(a0, a1) {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.cond.Wait()
	}
	l.active = append(l.active, [2]int64{a0, a1})
	return nil
}

func (l *unitLocks) overlaps(a0, a1 int64) bool {
	for _, r := range l.active {
		if a0 < r[1] && r[0] < a1 {
			return true
		}
	}
	return false
}

func (l *unitLocks) unlock(a0, a1 int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range l.active {
		if r == [2]int64{a0, a1} {
			l.active = append(l.active[:i], l.active[i+1:]...)
			break
		}
	}
	l.cond.Broadcast()
}

package crypt

import (
	"context"
	"fmt"

	"github.com/failback/failback/engine"
)

// DecryptingSource returns a Source that reads src's ciphertext and yields
// plaintext. Callers may read any range; it reads whole 4 KiB units
// underneath. Allocated passes through (holes stay holes: zero ciphertext
// is zero plaintext).
//
// It deliberately does not implement engine.BlockHasher even when src does:
// a hasher next to the data would checksum ciphertext, and the engine
// compares plaintext checksums. The engine then hashes what it reads, which
// costs WAN bandwidth in delta mode; an agent that decrypts next to the data
// would need the key there (see docs/ENCRYPTION.md).
//
// key is copied into AES key schedules: Destroy it when the source is built
// if nothing else needs it.
func DecryptingSource(src engine.Source, key *DataKey) (engine.Source, error) {
	c, err := newUnitCipher(key)
	if err != nil {
		return nil, err
	}
	if src.Size()%512 != 0 {
		return nil, fmt.Errorf("crypt: decrypting source: %w (%d bytes)", ErrUnaligned, src.Size())
	}
	return &decSource{src: src, c: c}, nil
}

type decSource struct {
	src engine.Source
	c   *unitCipher
}

func (s *decSource) Size() int64 { return s.src.Size() }

func (s *decSource) Allocated(ctx context.Context) ([]engine.Extent, error) {
	return s.src.Allocated(ctx)
}

func (s *decSource) ReadAt(ctx context.Context, p []byte, off int64) error {
	return readDecrypted(ctx, s.src.ReadAt, s.c, s.src.Size(), p, off)
}

type readFunc func(ctx context.Context, p []byte, off int64) error

// readDecrypted reads [off, off+len(p)) as plaintext through read, which
// returns ciphertext. Aligned reads decrypt in p itself; unaligned ones read
// the covering units into a buffer of their own.
func readDecrypted(ctx context.Context, read readFunc, c *unitCipher, size int64, p []byte, off int64) error {
	if err := checkRange(size, off, int64(len(p))); err != nil {
		return err
	}
	if len(p) == 0 {
		return ctx.Err()
	}
	a0, a1 := unitSpan(size, off, int64(len(p)))
	if a0 == off && a1 == off+int64(len(p)) {
		if err := read(ctx, p, off); err != nil {
			return err
		}
		c.decryptUnits(p, off)
		return nil
	}
	bp := getSpan(a1 - a0)
	defer putSpan(bp)
	buf := *bp
	if err := read(ctx, buf, a0); err != nil {
		return err
	}
	c.decryptUnits(buf, a0)
	copy(p, buf[off-a0:])
	return nil
}

// unitSpan widens [off, off+n) to whole units, the last one ending at size.
func unitSpan(size, off, n int64) (a0, a1 int64) {
	a0 = off / UnitSize * UnitSize
	a1 = min((off+n+UnitSize-1)/UnitSize*UnitSize, size)
	return a0, a1
}

func checkRange(size, off, n int64) error {
	if off < 0 || n < 0 || off > size || n > size-off {
		return fmt.Errorf("crypt: %w: [%d, %d) on a disk of %d bytes", ErrOutOfRange, off, off+n, size)
	}
	return nil
}

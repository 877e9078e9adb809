package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// A sums file holds the per-block checksums of a disk as a sync left it:
//
//	header  32 bytes: magic "FBSUMS01", uint32 version 1, uint32 0,
//	        uint64 block size, uint64 disk size (little endian)
//	sums    16 bytes (a Sum) per block, block 0 first
//	trailer uint32 CRC-32C of header and sums, then "SEND"
//
// It is built as PATH.partial, where the sync drops each block's final
// sum at its fixed place as it goes (an all-zero entry means "not known
// yet": the engine fills those from the target at the end), then renamed
// to PATH once complete. Memory stays constant: nothing is held per block.
const (
	sumsHeaderSize  = 32
	sumsTrailerSize = 8
	sumsVersion     = 1
	sumsChunk       = 1 << 16 // entries per read: 1 MiB
)

var (
	sumsMagic = [8]byte{'F', 'B', 'S', 'U', 'M', 'S', '0', '1'}
	sumsEnd   = [4]byte{'S', 'E', 'N', 'D'}
)

func sumsHeader(bs, size int64) []byte {
	h := make([]byte, 0, sumsHeaderSize)
	h = append(h, sumsMagic[:]...)
	h = binary.LittleEndian.AppendUint32(h, sumsVersion)
	h = binary.LittleEndian.AppendUint32(h, 0)
	h = binary.LittleEndian.AppendUint64(h, uint64(bs))
	return binary.LittleEndian.AppendUint64(h, uint64(size))
}

// sumsWriter is a sums file being built.
type sumsWriter struct {
	f             *os.File
	path, partial string
	bs, size, n   int64
}

// openSums starts PATH.partial, or reopens it when resuming a job whose
// earlier run began it (every entry it holds is a final sum: the source
// is the same).
func openSums(path string, bs, size int64, resume bool) (*sumsWriter, error) {
	s := &sumsWriter{path: path, partial: path + ".partial", bs: bs, size: size, n: (size + bs - 1) / bs}
	want := sumsHeader(bs, size)
	full := sumsHeaderSize + 16*s.n
	if resume {
		if f, err := os.OpenFile(s.partial, os.O_RDWR, 0); err == nil {
			got := make([]byte, sumsHeaderSize)
			st, serr := f.Stat()
			if _, rerr := f.ReadAt(got, 0); rerr == nil && serr == nil && bytes.Equal(got, want) && st.Size() == full {
				s.f = f
				return s, nil
			}
			f.Close()
		}
	}
	f, err := os.OpenFile(s.partial, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600) // private, as all of the state folder
	if err != nil {
		return nil, fmt.Errorf("create block checksum file: %w", err)
	}
	_, err = f.Write(want)
	if err == nil {
		err = f.Truncate(full)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("create block checksum file: %w", err)
	}
	s.f = f
	return s, nil
}

func (s *sumsWriter) put(b int64, sum Sum) error {
	if _, err := s.f.WriteAt(sum[:], sumsHeaderSize+16*b); err != nil {
		return fmt.Errorf("write block checksum file: %w", err)
	}
	return nil
}

func (s *sumsWriter) close() { s.f.Close() }

// finishSums fills the entries the sync did not learn by hashing those
// target blocks (unallocated ones without reading), seals the file with
// its CRC and renames it into place.
func (r *run) finishSums(ctx context.Context) error {
	s := r.sums
	dstAlloc, err := allocated(ctx, r.dst.Allocated, r.cfg.size, "target")
	if err != nil {
		return err
	}
	r.ctr.setPhase(PhaseSums, 0, r.cfg.size)
	sl, err := r.getSlot(ctx)
	if err != nil {
		return err
	}
	defer func() { r.pool <- sl }()
	cur := newCursor(dstAlloc)
	crc := crc32.New(castagnoli)
	crc.Write(sumsHeader(s.bs, s.size))
	chunk := make([]byte, 16*sumsChunk)
	var unknown [16]byte
	for first := int64(0); first < s.n; first += sumsChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := chunk[:16*min(sumsChunk, s.n-first)]
		at := sumsHeaderSize + 16*first
		if _, err := s.f.ReadAt(c, at); err != nil {
			return fmt.Errorf("read block checksum file: %w", err)
		}
		dirty := false
		for i := 0; i < len(c); i += 16 {
			b := first + int64(i/16)
			off := b * s.bs
			n := min(s.bs, s.size-off)
			if [16]byte(c[i:i+16]) == unknown {
				sum := r.zeroSum(n)
				if cur.any(off, off+n) {
					if err := r.readTarget(ctx, sl.dst[:n], off); err != nil {
						return err
					}
					sum = HashBlock(sl.dst[:n])
				}
				copy(c[i:i+16], sum[:])
				dirty = true
			}
			r.ctr.phaseDone.Add(n)
		}
		if dirty {
			if _, err := s.f.WriteAt(c, at); err != nil {
				return fmt.Errorf("write block checksum file: %w", err)
			}
		}
		crc.Write(c)
	}
	tr := binary.LittleEndian.AppendUint32(nil, crc.Sum32())
	tr = append(tr, sumsEnd[:]...)
	if _, err := s.f.WriteAt(tr, sumsHeaderSize+16*s.n); err != nil {
		return fmt.Errorf("write block checksum file: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync block checksum file: %w", err)
	}
	if err := s.f.Close(); err != nil { // before the rename, which Windows needs
		return fmt.Errorf("block checksum file: %w", err)
	}
	if err := os.Rename(s.partial, s.path); err != nil {
		return fmt.Errorf("block checksum file: %w", err)
	}
	return syncDir(filepath.Dir(s.path))
}

// ErrSumsCorrupt marks a sums file that fails its checks.
var ErrSumsCorrupt = errors.New("block checksum file is corrupt")

// readSumsHeader opens and checks a complete sums file (header, size and
// CRC, streaming) and returns its block size and disk size.
func readSumsHeader(path string) (f *os.File, bs, size int64, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	h := make([]byte, sumsHeaderSize)
	if _, err := f.ReadAt(h, 0); err != nil || [8]byte(h[:8]) != sumsMagic || binary.LittleEndian.Uint32(h[8:]) != sumsVersion {
		return nil, 0, 0, fmt.Errorf("%s: %w: bad header", path, ErrSumsCorrupt)
	}
	bs, size = int64(binary.LittleEndian.Uint64(h[16:])), int64(binary.LittleEndian.Uint64(h[24:]))
	if bs < MinBlockSize || bs > MaxBlockSize || size < 0 {
		return nil, 0, 0, fmt.Errorf("%s: %w: block size %d, disk size %d", path, ErrSumsCorrupt, bs, size)
	}
	n := (size + bs - 1) / bs
	st, err := f.Stat()
	if err != nil {
		return nil, 0, 0, err
	}
	if st.Size() != sumsHeaderSize+16*n+sumsTrailerSize {
		return nil, 0, 0, fmt.Errorf("%s: %w: %d bytes, expected %d", path, ErrSumsCorrupt, st.Size(), sumsHeaderSize+16*n+sumsTrailerSize)
	}
	crc := crc32.New(castagnoli)
	buf := make([]byte, 1<<20)
	for off, end := int64(0), sumsHeaderSize+16*n; off < end; {
		c := buf[:min(int64(len(buf)), end-off)]
		if _, err := f.ReadAt(c, off); err != nil {
			return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		crc.Write(c)
		off += int64(len(c))
	}
	tr := make([]byte, sumsTrailerSize)
	if _, err := f.ReadAt(tr, sumsHeaderSize+16*n); err != nil || [4]byte(tr[4:]) != sumsEnd || binary.LittleEndian.Uint32(tr) != crc.Sum32() {
		return nil, 0, 0, fmt.Errorf("%s: %w: checksum does not match", path, ErrSumsCorrupt)
	}
	return f, bs, size, nil
}

package agent

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/failback/failback/engine"
)

// errFrameCheck: a frame did not decode to its length and checksum. Worth
// a retry: the next attempt reads it again.
var errFrameCheck = errors.New("agent frame failed its length or checksum check")

// HashBlocks returns the checksums of blocks (numbered from 0 at
// blockSize): the agent reads and hashes them next to the data, so only
// 17 bytes per block cross the link (1 for an all-zero block). While the
// agent is unreachable, the sums still missing are computed here from
// direct reads through the fallback, which costs the blocks' full size on
// the WAN.
func (s *Source) HashBlocks(ctx context.Context, blockSize int64, blocks []int64) ([]engine.Sum, error) {
	if !validBlockSize(blockSize) {
		return nil, fmt.Errorf("agent: block size %d: use a power of two from %d to %d", blockSize, engine.MinBlockSize, engine.MaxBlockSize)
	}
	nblocks := (s.size + blockSize - 1) / blockSize
	for _, b := range blocks {
		if b < 0 || b >= nblocks {
			return nil, fmt.Errorf("agent: block %d is outside the %d-block disk", b, nblocks)
		}
	}
	out := make([]engine.Sum, len(blocks))
	if len(blocks) == 0 {
		return out, nil
	}
	have := make([]bool, len(blocks))
	if s.alloc != nil {
		if err := s.takeAhead(ctx, blockSize, blocks, out, have); err != nil {
			return nil, err
		}
	}
	var missing []int64
	var at []int
	for i, b := range blocks {
		if have[i] {
			s.st.checked.Add(s.blockLen(b, blockSize))
		} else {
			missing, at = append(missing, b), append(at, i)
		}
	}
	// Ask for the next windows now, so the agent reads them while this
	// batch is fetched and then compared on premises.
	s.scheduleAhead(blockSize, blocks[len(blocks)-1])
	if len(missing) == 0 {
		return out, nil
	}
	sums, err := s.fetchSums(ctx, blockSize, missing)
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		out[i] = sums[k]
	}
	return out, nil
}

// fetchSums asks the agent for the sums of blocks, through retries, and
// computes through the fallback what the agent could not give.
func (s *Source) fetchSums(ctx context.Context, bs int64, blocks []int64) ([]engine.Sum, error) {
	out := make([]engine.Sum, len(blocks))
	for done := 0; done < len(blocks); {
		chunk := requestChunk(blocks[done:])
		got := 0
		err := s.retry(ctx, "block checksums", func(ctx context.Context, id string) (bool, error) {
			n, err := s.sumsAttempt(ctx, id, bs, chunk[got:], out[done+got:])
			for _, b := range chunk[got : got+n] {
				s.st.checked.Add(s.blockLen(b, bs))
			}
			got += n
			return n > 0, err
		})
		done += got
		if err != nil {
			if errors.Is(err, errAgentDown) && s.o.Fallback != nil {
				return out, s.hashFallback(ctx, bs, blocks[done:], out[done:])
			}
			return nil, err
		}
	}
	return out, nil
}

// requestChunk is the longest prefix of blocks one sums request may ask
// for (MaxSumBlocks blocks in at most MaxRuns runs).
func requestChunk(blocks []int64) []int64 {
	runs := 0
	for i := range blocks {
		if i == MaxSumBlocks {
			return blocks[:i]
		}
		if i == 0 || blocks[i] != blocks[i-1]+1 {
			if runs++; runs > MaxRuns {
				return blocks[:i]
			}
		}
	}
	return blocks
}

func (s *Source) blockLen(b, bs int64) int64 { return min(bs, s.size-b*bs) }

// sumsAttempt asks once for the sums of blocks and fills out as records
// arrive; it returns how many it got, also on failure.
func (s *Source) sumsAttempt(ctx context.Context, id string, bs int64, blocks []int64, out []engine.Sum) (int, error) {
	q := s.ref.query()
	q.Set("bs", strconv.FormatInt(bs, 10))
	q.Set("blocks", encodeRuns(blocks))
	body, err := s.get(ctx, id, pathSums, q)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	r := bufio.NewReaderSize(body, 32<<10)
	if err := readMagic(r, magicSums); err != nil {
		return 0, err
	}
	for i, b := range blocks {
		k, err := r.ReadByte()
		if err != nil {
			return i, truncated(err)
		}
		n := s.blockLen(b, bs)
		switch k {
		case kindZero:
			out[i] = zeroSum(n)
		case kindSum:
			if _, err := io.ReadFull(r, out[i][:]); err != nil {
				return i, truncated(err)
			}
		case kindError:
			return i, readErrorRecord(r)
		default:
			return i, fmt.Errorf("%w: record kind 0x%02x in a checksum answer", errProtocol, k)
		}
	}
	// Every sum is in; a missing end record changes nothing.
	if k, err := r.ReadByte(); err == nil && k == kindEnd {
		if err := readEnd(r, len(blocks)); err != nil && !errors.Is(err, errTruncated) {
			return len(blocks), fmt.Errorf("%w: %w", errProtocol, err)
		}
	}
	drain(r)
	return len(blocks), nil
}

// ReadAt fills p from the snapshot at off through the agent, each frame
// checked against its length and checksum; after a broken answer it asks
// again for what is still missing only. While the agent is unreachable it
// reads the rest through the fallback.
func (s *Source) ReadAt(ctx context.Context, p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > s.size {
		return fmt.Errorf("agent read [%d, %d) of the %d-byte snapshot %s: past the end of the disk", off, off+int64(len(p)), s.size, s.ref)
	}
	for got := 0; got < len(p); {
		end := got + min(len(p)-got, MaxReadBytes)
		part := got
		err := s.retry(ctx, fmt.Sprintf("read [%d, %d)", off+int64(got), off+int64(end)), func(ctx context.Context, id string) (bool, error) {
			n, err := s.readAttempt(ctx, id, p[part:end], off+int64(part))
			part += n
			return n > 0, err
		})
		got = part
		if err != nil {
			if errors.Is(err, errAgentDown) && s.o.Fallback != nil {
				return s.readFallback(ctx, p[got:], off+int64(got))
			}
			return err
		}
	}
	return nil
}

// readAttempt asks once for p's range and decodes frames straight into
// p; it returns how many bytes are in place and checked, also on failure.
func (s *Source) readAttempt(ctx context.Context, id string, p []byte, off int64) (int, error) {
	fs := int(s.o.FrameSize)
	q := s.ref.query()
	q.Set("off", strconv.FormatInt(off, 10))
	q.Set("len", strconv.Itoa(len(p)))
	q.Set("frame", strconv.Itoa(fs))
	body, err := s.get(ctx, id, pathBlocks, q)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	r := bufio.NewReaderSize(body, 64<<10)
	if err := readMagic(r, magicBlocks); err != nil {
		return 0, err
	}
	frames := 0
	for pos := 0; pos < len(p); frames++ {
		want := min(fs, len(p)-pos)
		if err := s.readFrame(r, p[pos:pos+want]); err != nil {
			return pos, err
		}
		pos += want
	}
	if k, err := r.ReadByte(); err == nil && k == kindEnd {
		if err := readEnd(r, frames); err != nil && !errors.Is(err, errTruncated) {
			return len(p), fmt.Errorf("%w: %w", errProtocol, err)
		}
	}
	drain(r)
	return len(p), nil
}

// readFrame reads one frame of exactly len(dst) bytes into dst and checks
// it. dst may hold garbage on failure.
func (s *Source) readFrame(r *bufio.Reader, dst []byte) error {
	k, err := r.ReadByte()
	if err != nil {
		return truncated(err)
	}
	if k == kindError {
		return readErrorRecord(r)
	}
	var h [24]byte
	hl := 4
	if k == kindRaw || k == kindZstd {
		hl = 24
	} else if k != kindZero {
		return fmt.Errorf("%w: record kind 0x%02x in a block answer", errProtocol, k)
	}
	if _, err := io.ReadFull(r, h[:hl]); err != nil {
		return truncated(err)
	}
	n := int(binary.LittleEndian.Uint32(h[:4]))
	if n != len(dst) {
		return fmt.Errorf("%w: a frame of %d bytes where %d were asked for", errProtocol, n, len(dst))
	}
	s.st.block.Add(int64(n))
	if k == kindZero {
		clear(dst)
		s.st.zero.Add(int64(n))
		return nil
	}
	clen := int(binary.LittleEndian.Uint32(h[4:8]))
	sum := engine.Sum(h[8:24])
	switch {
	case k == kindRaw && clen == n:
		if _, err := io.ReadFull(r, dst); err != nil {
			return truncated(err)
		}
	case k == kindZstd && clen > 0 && clen < n:
		buf := getBuf(clen)
		defer putBuf(buf)
		if _, err := io.ReadFull(r, buf); err != nil {
			return truncated(err)
		}
		out, err := s.dec.DecodeAll(buf, dst[:0:n])
		if err != nil || len(out) != n || &out[0] != &dst[0] {
			return fmt.Errorf("%w: zstd frame of %d bytes did not decode to %d bytes (%v)", errFrameCheck, clen, n, err)
		}
	default:
		return fmt.Errorf("%w: frame kind 0x%02x with %d payload bytes for %d", errProtocol, k, clen, n)
	}
	s.st.payload.Add(int64(clen))
	if engine.HashBlock(dst) != sum {
		return errFrameCheck
	}
	return nil
}

// drain reads what is left of a complete answer (the end of the chunked
// body), so the connection goes back to the pool instead of being closed:
// a new connection costs a TLS handshake on the WAN.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 4<<10)) }

package agent

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/failback/failback/engine"
)

// writeTimeout bounds each write of an answer: a client that stops
// reading cannot hold the agent's buffers for longer.
const writeTimeout = 2 * time.Minute

// flushEvery is how many sums go out per flush: a batch is on its way
// while the next is computed, and a broken answer loses little.
const flushEvery = 64

// request is what every data request starts with: the snapshot, opened.
type request struct {
	ref   snapRef
	snap  *snapEntry
	start time.Time
	id    string
}

// begin checks the snapshot reference and opens the snapshot; on failure
// it has answered the client.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) (*request, bool) {
	q := r.URL.Query()
	ref, err := parseSnapRef(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	if s.allowed != nil && !s.allowed[ref.container] {
		s.log.Warn("agent: refused a container outside --container", "container", ref.container, "remote", r.RemoteAddr)
		http.Error(w, "container "+ref.container+" is not served by this agent", http.StatusForbidden)
		return nil, false
	}
	req := &request{ref: ref, start: time.Now(), id: r.Header.Get(headerRequestID)}
	req.snap, err = s.snaps.get(r.Context(), ref)
	if err != nil {
		status, _ := storageStatus(err)
		s.log.Warn("agent: cannot open snapshot", "snapshot", ref.String(), "status", status, "err", err, "request", req.id)
		http.Error(w, err.Error(), status)
		return nil, false
	}
	return req, true
}

func (s *Server) done(req *request, what string, err error, args ...any) {
	args = append(args, "snapshot", req.ref.String(), "request", req.id, "took", time.Since(req.start).Round(time.Millisecond))
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("agent: "+what+" failed", append(args, "err", err)...)
		return
	}
	s.log.Debug("agent: "+what, args...)
}

// streamWriter buffers an answer and pushes each flush out with a write
// deadline.
type streamWriter struct {
	*bufio.Writer
	rc *http.ResponseController
}

func newStream(w http.ResponseWriter, magic [4]byte) *streamWriter {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	sw := &streamWriter{Writer: bufio.NewWriterSize(w, 64<<10), rc: http.NewResponseController(w)}
	_, _ = sw.Write(magic[:])
	return sw
}

func (sw *streamWriter) flush() error {
	_ = sw.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := sw.Flush(); err != nil {
		return err
	}
	return sw.rc.Flush()
}

// fail ends a started answer with an error record.
func (sw *streamWriter) fail(err error) {
	_, transient := storageStatus(err)
	_ = writeErrorRecord(sw, err.Error(), transient)
	_ = sw.flush()
}

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	req, ok := s.begin(w, r)
	if !ok {
		return
	}
	sw := newStream(w, magicAlloc)
	b := binary.LittleEndian.AppendUint64(nil, uint64(req.snap.src.Size()))
	var end int64
	for _, e := range req.snap.alloc {
		b = binary.AppendUvarint(b, uint64(e.Off-end))
		b = binary.AppendUvarint(b, uint64(e.Len))
		end = e.End()
		if len(b) > 32<<10 {
			_, _ = sw.Write(b)
			b = b[:0]
		}
	}
	b = binary.AppendUvarint(b, 0)
	b = binary.AppendUvarint(b, 0)
	_, _ = sw.Write(b)
	_ = writeEnd(sw, len(req.snap.alloc))
	err := sw.flush()
	s.done(req, "snapshot", err, "ranges", len(req.snap.alloc))
}

// reserve takes the memory a request's workers need from the budget,
// shrinking the number of workers if one request would need more than
// half of it. It returns the workers, the bytes reserved and a release.
func (s *Server) reserve(ctx context.Context, workers int, perWorker int64) (int, func(), error) {
	workers = max(1, min(workers, int(s.o.MemoryLimit/2/perWorker)))
	n := int64(workers) * perWorker
	if err := s.mem.acquire(ctx, n); err != nil {
		return 0, nil, err
	}
	return workers, func() { s.mem.release(n) }, nil
}

// read fills p from the snapshot at off, holding a storage read token.
func (s *Server) read(ctx context.Context, snap *snapEntry, p []byte, off int64) error {
	select {
	case s.reads <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.reads }()
	if err := snap.src.ReadAt(ctx, p, off); err != nil {
		return err
	}
	s.stats.read.Add(int64(len(p)))
	return nil
}

func (s *Server) handleSums(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bs, err := strconv.ParseInt(q.Get("bs"), 10, 64)
	if err != nil || !validBlockSize(bs) {
		http.Error(w, fmt.Sprintf("bs=%q: the block size must be a power of two from %d to %d", q.Get("bs"), engine.MinBlockSize, engine.MaxBlockSize), http.StatusBadRequest)
		return
	}
	req, ok := s.begin(w, r)
	if !ok {
		return
	}
	size := req.snap.src.Size()
	runs, total, err := parseRuns(q.Get("blocks"), (size+bs-1)/bs)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Consecutive blocks are read together, readUnit bytes at a time:
	// a storage request costs milliseconds whatever its size, so small
	// blocks read one by one would leave the agent waiting on latency.
	unitBlocks := int(max(1, readUnit/bs))
	var units []run
	for _, rn := range runs {
		for b := rn.first; b < rn.first+rn.count; b += int64(unitBlocks) {
			units = append(units, run{b, min(int64(unitBlocks), rn.first+rn.count-b)})
		}
	}
	unitBytes := int64(unitBlocks) * bs
	ctx := r.Context()
	workers, release, err := s.reserve(ctx, min(s.o.RequestParallel, len(units)), unitBytes)
	if err != nil {
		return // the client went away while waiting
	}
	defer release()
	sw := newStream(w, magicSums)
	var sent, nonZero int
	err = ordered(ctx, len(units), workers, 2*workers, int(unitBytes),
		func(ctx context.Context, i int, buf []byte) ([]sumRec, error) {
			return s.hashUnit(ctx, req.snap, units[i], bs, buf)
		},
		func(_ int, recs []sumRec) error {
			for _, v := range recs {
				s.stats.checked.Add(v.n)
				s.stats.sums.Add(1)
				if v.zero {
					_ = sw.WriteByte(kindZero)
				} else {
					nonZero++
					_ = sw.WriteByte(kindSum)
					_, _ = sw.Write(v.sum[:])
				}
				if sent++; sent%flushEvery == 0 {
					if err := sw.flush(); err != nil {
						return err
					}
				}
			}
			return nil
		})
	if err == nil {
		_ = writeEnd(sw, total)
		err = sw.flush()
	} else {
		sw.fail(err)
	}
	s.done(req, "sums", err, "blocks", total, "block_size", bs, "non_zero", nonZero)
}

// readUnit is the most bytes of consecutive blocks one storage read
// covers when computing sums.
const readUnit = 4 << 20

// sumRec is the checksum record of one block.
type sumRec struct {
	n    int64
	zero bool
	sum  engine.Sum
}

// hashUnit reads the consecutive blocks u in one storage read (only
// their allocated pages: unallocated ones are zeros without a request)
// and returns their records. A unit with nothing allocated is not read.
func (s *Server) hashUnit(ctx context.Context, snap *snapEntry, u run, bs int64, buf []byte) ([]sumRec, error) {
	size := snap.src.Size()
	off := u.first * bs
	end := min(off+u.count*bs, size)
	recs := make([]sumRec, u.count)
	allocated := overlaps(snap.alloc, off, end-off)
	if allocated {
		if err := s.read(ctx, snap, buf[:end-off], off); err != nil {
			return nil, err
		}
	}
	for i := range recs {
		bo := off + int64(i)*bs
		n := min(bs, size-bo)
		recs[i] = sumRec{n: n, zero: true}
		if allocated && overlaps(snap.alloc, bo, n) {
			sum := engine.HashBlock(buf[bo-off : bo-off+n])
			recs[i].sum, recs[i].zero = sum, sum == zeroSum(n)
		}
	}
	return recs, nil
}

// frame is one encoded frame of a blocks answer.
type frame struct {
	kind    byte
	n       int
	sum     engine.Sum
	payload []byte // from getBuf; nil for a zero frame
}

func (s *Server) handleBlocks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	off, err1 := strconv.ParseInt(q.Get("off"), 10, 64)
	n, err2 := strconv.ParseInt(q.Get("len"), 10, 64)
	fs, err3 := strconv.ParseInt(q.Get("frame"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || off < 0 || n < 1 || n > MaxReadBytes || fs < MinFrame || fs > MaxFrame {
		http.Error(w, fmt.Sprintf("off, len and frame must be numbers with off >= 0, 1 <= len <= %d, %d <= frame <= %d", MaxReadBytes, MinFrame, MaxFrame), http.StatusBadRequest)
		return
	}
	req, ok := s.begin(w, r)
	if !ok {
		return
	}
	if size := req.snap.src.Size(); off+n > size {
		http.Error(w, fmt.Sprintf("[%d, %d) is past the end of the %d-byte disk", off, off+n, size), http.StatusRequestedRangeNotSatisfiable)
		return
	}
	frames := int((n + fs - 1) / fs)
	ctx := r.Context()
	// Each worker reads into its own buffer; each frame in the window
	// holds its encoded payload (at most the frame size).
	workers, release, err := s.reserve(ctx, min(s.o.RequestParallel, frames), 3*fs)
	if err != nil {
		return
	}
	defer release()
	sw := newStream(w, magicBlocks)
	var payload int64
	err = ordered(ctx, frames, workers, 2*workers, int(fs),
		func(ctx context.Context, i int, buf []byte) (frame, error) {
			fo := off + int64(i)*fs
			fn := min(fs, off+n-fo)
			return s.encodeFrame(ctx, req.snap, buf[:fn], fo)
		},
		func(i int, f frame) error {
			defer putBuf(f.payload)
			s.stats.frames.Add(1)
			s.stats.plaintextFrames.Add(int64(f.n))
			s.stats.payload.Add(int64(len(f.payload)))
			payload += int64(len(f.payload))
			h := binary.LittleEndian.AppendUint32([]byte{f.kind}, uint32(f.n))
			if f.kind != kindZero {
				h = binary.LittleEndian.AppendUint32(h, uint32(len(f.payload)))
				h = append(h, f.sum[:]...)
			}
			_, _ = sw.Write(h)
			_, _ = sw.Write(f.payload)
			return sw.flush()
		})
	if err == nil {
		_ = writeEnd(sw, frames)
		err = sw.flush()
	} else {
		sw.fail(err)
	}
	s.done(req, "blocks", err, "off", off, "len", n, "payload", payload)
}

// encodeFrame reads one frame and encodes it: a zero marker (unallocated
// or all zero), else zstd, else raw when compression does not pay (as
// with ciphertext).
func (s *Server) encodeFrame(ctx context.Context, snap *snapEntry, buf []byte, off int64) (frame, error) {
	f := frame{kind: kindZero, n: len(buf)}
	if !overlaps(snap.alloc, off, int64(len(buf))) {
		return f, nil
	}
	if err := s.read(ctx, snap, buf, off); err != nil {
		return f, err
	}
	if isZero(buf) {
		return f, nil
	}
	f.sum = engine.HashBlock(buf)
	out := s.enc.EncodeAll(buf, getBuf(len(buf))[:0])
	if len(out) < len(buf) {
		f.kind, f.payload = kindZstd, out
		return f, nil
	}
	putBuf(out)
	raw := getBuf(len(buf))
	copy(raw, buf)
	f.kind, f.payload = kindRaw, raw
	return f, nil
}

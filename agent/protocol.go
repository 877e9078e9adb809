package agent

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/url"
	"strconv"
	"strings"

	"github.com/failback/failback/engine"
)

// ProtocolVersion is the version of the wire protocol (the /v1/ paths).
const ProtocolVersion = 1

// Paths of the API.
const (
	pathInfo     = "/v1/info"
	pathSnapshot = "/v1/snapshot"
	pathSums     = "/v1/sums"
	pathBlocks   = "/v1/blocks"
)

// Request header naming a request and its retries, for the agent's log.
const headerRequestID = "X-Failback-Request-Id"

// Limits of one request. They bound the agent's work and memory per
// request, and the client's buffers, whatever a peer claims.
const (
	// MaxSumBlocks is the most block checksums one sums request asks for.
	MaxSumBlocks = 4096
	// MaxRuns is the most runs in one sums request's block list.
	MaxRuns = 1024
	// MaxReadBytes is the longest range one blocks request reads.
	MaxReadBytes = 64 << 20
	// MinFrame, MaxFrame and DefaultFrame bound the unit of a blocks
	// answer: each frame is verified, compressed and zero-marked alone.
	MinFrame     = 4 << 10
	MaxFrame     = 4 << 20
	DefaultFrame = 1 << 20
	// maxErrMsg bounds an error record's message.
	maxErrMsg = 1024
	// maxNameLen bounds container, blob and snapshot names (Azure allows
	// 1,024 characters for a blob name).
	maxNameLen = 1024
)

// Stream magics, one per answer type, so that a client never reads one
// kind of answer as another.
var (
	magicAlloc  = [4]byte{'F', 'B', 'A', '1'}
	magicSums   = [4]byte{'F', 'B', 'S', '1'}
	magicBlocks = [4]byte{'F', 'B', 'B', '1'}
)

// Record kinds in sums and blocks streams.
const (
	kindZero  byte = 0x00 // all-zero block or frame: no sum, no payload
	kindSum   byte = 0x01 // a 16-byte checksum follows
	kindRaw   byte = 0x02 // frame payload stored as is
	kindZstd  byte = 0x03 // frame payload is one zstd frame
	kindError byte = 0xFE // the answer failed after it started
	kindEnd   byte = 0xFF // the answer is complete
)

// errFlagTransient in an error record says that a retry may succeed.
const errFlagTransient = 1

// Info is the answer of /v1/info.
type Info struct {
	Protocol     int   `json:"protocol"`
	MaxSumBlocks int   `json:"max_sum_blocks"`
	MaxReadBytes int64 `json:"max_read_bytes"`
	MaxFrame     int64 `json:"max_frame"`
	MinBlockSize int64 `json:"min_block_size"`
	MaxBlockSize int64 `json:"max_block_size"`
}

func currentInfo() Info {
	return Info{Protocol: ProtocolVersion, MaxSumBlocks: MaxSumBlocks, MaxReadBytes: MaxReadBytes,
		MaxFrame: MaxFrame, MinBlockSize: engine.MinBlockSize, MaxBlockSize: engine.MaxBlockSize}
}

// snapRef names a snapshot of a disk.
type snapRef struct{ container, blob, snapshot string }

func (r snapRef) String() string { return r.container + "/" + r.blob + "@" + r.snapshot }

func (r snapRef) query() url.Values {
	return url.Values{"c": {r.container}, "b": {r.blob}, "s": {r.snapshot}}
}

// parseSnapRef reads and checks c, b and s. A snapshot id is required:
// the agent never reads a live blob, which a running VM keeps changing.
func parseSnapRef(q url.Values) (snapRef, error) {
	r := snapRef{container: q.Get("c"), blob: q.Get("b"), snapshot: q.Get("s")}
	for _, err := range []error{checkContainer(r.container), checkBlob(r.blob), checkSnapshot(r.snapshot)} {
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// run is the block interval [first, first+count).
type run struct{ first, count int64 }

// encodeRuns writes blocks, in their order, as runs of consecutive
// numbers: "first:count,first:count".
func encodeRuns(blocks []int64) string {
	var b strings.Builder
	for i := 0; i < len(blocks); {
		j := i + 1
		for j < len(blocks) && blocks[j] == blocks[j-1]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(blocks[i], 10))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(j - i))
		i = j
	}
	return b.String()
}

// parseRuns reads a run list, refusing more than MaxRuns runs or
// MaxSumBlocks blocks, and blocks at or past nblocks.
func parseRuns(s string, nblocks int64) ([]run, int, error) {
	if s == "" {
		return nil, 0, errors.New("no blocks asked for")
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxRuns {
		return nil, 0, fmt.Errorf("%d runs of blocks in one request; at most %d", len(parts), MaxRuns)
	}
	runs := make([]run, 0, len(parts))
	total := 0
	for _, p := range parts {
		a, c, ok := strings.Cut(p, ":")
		first, err1 := strconv.ParseInt(a, 10, 64)
		count, err2 := strconv.ParseInt(c, 10, 64)
		if !ok || err1 != nil || err2 != nil || first < 0 || count < 1 || count > MaxSumBlocks {
			return nil, 0, fmt.Errorf("bad block run %q: write first:count", p)
		}
		if first >= nblocks || count > nblocks-first {
			return nil, 0, fmt.Errorf("blocks %d to %d are past the end of the disk (%d blocks)", first, first+count-1, nblocks)
		}
		total += int(count)
		if total > MaxSumBlocks {
			return nil, 0, fmt.Errorf("more than %d blocks in one request", MaxSumBlocks)
		}
		runs = append(runs, run{first, count})
	}
	return runs, total, nil
}

// validBlockSize reports whether bs is one the engine can use.
func validBlockSize(bs int64) bool {
	return bs >= engine.MinBlockSize && bs <= engine.MaxBlockSize && bits.OnesCount64(uint64(bs)) == 1
}

// RemoteError is a failure the agent reported: an HTTP error status, or
// an error record after the answer had started.
type RemoteError struct {
	Status    int // HTTP status; 0 for an error record
	Msg       string
	Transient bool
}

func (e *RemoteError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("agent answered HTTP %d: %s", e.Status, e.Msg)
	}
	return "agent failed during the answer: " + e.Msg
}

// writeErrorRecord ends a stream that had started with an error record.
func writeErrorRecord(w io.Writer, msg string, transient bool) error {
	if len(msg) > maxErrMsg {
		msg = msg[:maxErrMsg]
	}
	var flags byte
	if transient {
		flags = errFlagTransient
	}
	b := []byte{kindError, flags}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(msg)))
	b = append(b, msg...)
	_, err := w.Write(b)
	return err
}

// readErrorRecord reads an error record's body (after its kind byte).
func readErrorRecord(r *bufio.Reader) error {
	var h [3]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return truncated(err)
	}
	n := binary.LittleEndian.Uint16(h[1:])
	if n > maxErrMsg {
		return fmt.Errorf("agent sent a malformed error record (%d-byte message)", n)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return truncated(err)
	}
	return &RemoteError{Msg: string(msg), Transient: h[0]&errFlagTransient != 0}
}

func writeEnd(w io.Writer, count int) error {
	b := binary.LittleEndian.AppendUint32([]byte{kindEnd}, uint32(count))
	_, err := w.Write(b)
	return err
}

// readEnd reads an end record's count (after its kind byte) and checks it.
func readEnd(r *bufio.Reader, want int) error {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return truncated(err)
	}
	if got := binary.LittleEndian.Uint32(b[:]); int(got) != want {
		return fmt.Errorf("agent's answer ended after %d records, %d expected", got, want)
	}
	return nil
}

// errTruncated marks an answer cut short: the connection broke.
var errTruncated = errors.New("agent's answer was cut short")

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", errTruncated, io.ErrUnexpectedEOF)
	}
	return err
}

func readMagic(r *bufio.Reader, want [4]byte) error {
	var m [4]byte
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return truncated(err)
	}
	if m != want {
		return fmt.Errorf("agent answered with %q where %q was expected: is the URL a failback agent of protocol version %d?", m[:], want[:], ProtocolVersion)
	}
	return nil
}

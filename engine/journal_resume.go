package engine

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"slices"
)

// A checkpoint record of format 2 in the resume journal:
//
//	 0  uint32  magic "FBR2"
//	 4  uint32  nruns
//	 8  uint64  watermark: every block of the scope below it is finished
//	16  uint64  records: undo records 1..records are durable
//	24  uint64  undo end: the undo journal's length through that record
//	32  uint64  from: the watermark the run writing it started from
//	40  nruns × (uint64 first, uint64 end): the blocks of the undo records
//	    this checkpoint is the first to count (sorted, merged)
//	..  uint32  CRC-32C of everything before, seeded with the salt
//
// The union of the runs of all checkpoints is the index: every block the
// undo journal holds through the last checkpoint's record count.
const (
	resumeRecMagic = 0x32524246 // "FBR2"
	ckFixedSize    = 40
)

// checkpoint is one decoded checkpoint record.
type checkpoint struct {
	watermark, from int64
	records         uint64
	undoEnd         int64
	runs            []blockRun
}

func encodeCheckpoint(seed uint32, c checkpoint) []byte {
	le := binary.LittleEndian
	b := make([]byte, ckFixedSize, ckFixedSize+16*len(c.runs)+4)
	le.PutUint32(b[0:], resumeRecMagic)
	le.PutUint32(b[4:], uint32(len(c.runs)))
	le.PutUint64(b[8:], uint64(c.watermark))
	le.PutUint64(b[16:], c.records)
	le.PutUint64(b[24:], uint64(c.undoEnd))
	le.PutUint64(b[32:], uint64(c.from))
	for _, r := range c.runs {
		b = le.AppendUint64(b, uint64(r.first))
		b = le.AppendUint64(b, uint64(r.end))
	}
	return le.AppendUint32(b, crc32.Update(seed, castagnoli, b))
}

// resumeState is what the resume journal says.
type resumeState struct {
	ok        bool // a readable resume journal of this job
	watermark int64
	from      int64
	records   uint64 // undo records the last checkpoint vouches for
	undoEnd   int64
	index     []blockRun // blocks of undo records 1..records, sorted, merged
	end       int64      // offset past the last valid checkpoint
}

// scanResume reads the checkpoints of a format-2 resume journal (size
// bytes) from off, stopping at the first that does not check (a torn
// tail, or damage: the undo journal's own counts then stand in).
func scanResume(r io.ReaderAt, size, off int64, h jobHeader) resumeState {
	st := resumeState{ok: true, end: off}
	seed := h.seed()
	le := binary.LittleEndian
	var runs []blockRun
	fixed := make([]byte, ckFixedSize)
	for {
		if _, err := r.ReadAt(fixed, off); err != nil || le.Uint32(fixed) != resumeRecMagic {
			break
		}
		n := int64(le.Uint32(fixed[4:]))
		if n > (size-off-ckFixedSize-4)/16 {
			break
		}
		b := make([]byte, ckFixedSize+16*n+4)
		if _, err := r.ReadAt(b, off); err != nil || crc32.Update(seed, castagnoli, b[:len(b)-4]) != le.Uint32(b[len(b)-4:]) {
			break
		}
		c := checkpoint{watermark: int64(le.Uint64(b[8:])), records: le.Uint64(b[16:]),
			undoEnd: int64(le.Uint64(b[24:])), from: int64(le.Uint64(b[32:]))}
		if c.watermark < st.watermark || c.records < st.records || c.watermark > h.blocks() {
			break // checkpoints never go back: not ours
		}
		for i := range n {
			p := b[ckFixedSize+16*i:]
			runs = append(runs, blockRun{int64(le.Uint64(p)), int64(le.Uint64(p[8:]))})
		}
		st.watermark, st.from, st.records, st.undoEnd = c.watermark, c.from, c.records, c.undoEnd
		off += int64(len(b))
		st.end = off
	}
	st.index = mergeRuns(runs)
	return st
}

// mergeRuns sorts runs and merges those that overlap or touch.
func mergeRuns(runs []blockRun) []blockRun {
	slices.SortFunc(runs, func(a, b blockRun) int { return int(min(max(a.first-b.first, -1), 1)) })
	out := runs[:0]
	for _, r := range runs {
		if r.end <= r.first {
			continue
		}
		if n := len(out); n > 0 && r.first <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, r.end)
			continue
		}
		out = append(out, r)
	}
	return out
}

// subtractRuns returns the blocks of a not in b (both sorted, merged).
func subtractRuns(a, b []blockRun) []blockRun {
	var out []blockRun
	j := 0
	for _, r := range a {
		for j < len(b) && b[j].end <= r.first {
			j++
		}
		cur := r.first
		for k := j; k < len(b) && b[k].first < r.end; k++ {
			if b[k].first > cur {
				out = append(out, blockRun{cur, b[k].first})
			}
			cur = max(cur, b[k].end)
		}
		if cur < r.end {
			out = append(out, blockRun{cur, r.end})
		}
	}
	return out
}

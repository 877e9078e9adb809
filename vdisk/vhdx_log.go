package vdisk

// The VHDX log (MS-VHDX 2.3): a circular buffer of 4 KiB sectors holding
// entries. An entry is a header sector (64-byte header, then descriptors),
// more descriptor sectors if needed, then one data sector per data
// descriptor. Each entry carries the file's log GUID, a sequence number, a
// CRC-32C over the whole entry, and a Tail: where the oldest entry still
// needed for replay starts.

import (
	"encoding/binary"
	"hash/crc32"
)

const (
	logSector   = 4096
	sigLogEntry = "loge"
	sigLogZero  = "zero"
	sigLogDesc  = "desc"
	sigLogData  = "data"
	// vhdxMaxReplayLog bounds the log this package reads (Hyper-V and qemu
	// use 1 MiB), which bounds the memory and CPU a hostile log can cost.
	vhdxMaxReplayLog = 64 << 20
)

// logWrite is what one descriptor does: write a 4 KiB sector (data), or
// zeros over zeroLen bytes (data == nil).
type logWrite struct {
	off     int64
	data    []byte
	zeroLen int64
}

func (w logWrite) len() int64 {
	if w.data != nil {
		return int64(len(w.data))
	}
	return w.zeroLen
}

// logEntry is a validated entry; its descriptors refer into the log buffer.
type logEntry struct {
	pos, length int64 // in the log
	seq         uint64
	tail        int64
	flushed     uint64 // FlushedFileOffset
	last        uint64 // LastFileOffset
	descs       []logDesc
}

type logDesc struct {
	zero     bool
	off      uint64
	zeroLen  uint64
	leading  uint64
	trailing uint32
	dataPos  int64 // data sector position in the log
}

// descSectors is how many sectors the header and n descriptors take (the
// header counts as two 32-byte descriptor slots).
func descSectors(n uint64) uint64 { return (n + 2 + 127) / 128 }

// parseLogEntry validates the entry starting at pos (a sector boundary) as
// MS-VHDX 2.3.1 defines it; entries may wrap around the end of the log.
func parseLogEntry(log []byte, pos int64, want guid) (logEntry, bool) {
	l := int64(len(log))
	sec := func(i int64) []byte {
		p := (pos + i*logSector) % l
		return log[p : p+logSector]
	}
	h := sec(0)
	le32, le64 := binary.LittleEndian.Uint32, binary.LittleEndian.Uint64
	e := logEntry{pos: pos, length: int64(le32(h[8:])), tail: int64(le32(h[12:])), seq: le64(h[16:]),
		flushed: le64(h[48:]), last: le64(h[56:])}
	n := uint64(le32(h[24:]))
	if string(h[0:4]) != sigLogEntry || e.length == 0 || e.length%logSector != 0 || e.length > l ||
		e.tail%logSector != 0 || e.tail >= l || e.seq == 0 || guid(h[32:48]) != want {
		return e, false
	}
	total := e.length / logSector
	if descSectors(n) > uint64(total) {
		return e, false
	}
	data := int64(descSectors(n))
	e.descs = make([]logDesc, 0, n)
	for i := range int64(n) {
		b := 64 + 32*i
		d := sec(b / logSector)[b%logSector:][:32]
		if le64(d[24:]) != e.seq || le64(d[16:])%logSector != 0 {
			return e, false
		}
		desc := logDesc{off: le64(d[16:])}
		switch string(d[0:4]) {
		case sigLogZero:
			desc.zero, desc.zeroLen = true, le64(d[8:])
			if desc.zeroLen%logSector != 0 {
				return e, false
			}
		case sigLogDesc:
			if data >= total {
				return e, false
			}
			ds := sec(data)
			if string(ds[0:4]) != sigLogData || le32(ds[4:]) != uint32(e.seq>>32) || le32(ds[4092:]) != uint32(e.seq) {
				return e, false
			}
			desc.leading, desc.trailing = le64(d[8:]), le32(d[4:])
			desc.dataPos = (pos + data*logSector) % l
			data++
		default:
			return e, false
		}
		e.descs = append(e.descs, desc)
	}
	first := make([]byte, logSector)
	copy(first, h)
	clear(first[4:8])
	crc := crc32.Update(0, crc32c, first)
	for i := int64(1); i < total; i++ {
		crc = crc32.Update(crc, crc32c, sec(i))
	}
	return e, crc == le32(h[4:])
}

// findActiveSequence returns the entries to replay, oldest first, or none.
//
// A sequence is a run of valid entries, each right after the previous one
// with the next sequence number; the active one is the run whose last entry
// has the highest sequence number. It is replayed from the entry its last
// entry's Tail names; when the Tail names no entry of the run (qemu writes
// such tails), the whole run is replayed, as qemu does.
func findActiveSequence(log []byte, want guid) []logEntry {
	l := int64(len(log))
	n := l / logSector
	memo := make([]*logEntry, n)
	tried := make([]bool, n)
	at := func(pos int64) *logEntry {
		i := pos / logSector
		if !tried[i] {
			tried[i] = true
			if e, ok := parseLogEntry(log, pos, want); ok {
				memo[i] = &e
			}
		}
		return memo[i]
	}
	var best []logEntry
	for s := int64(0); s < n; s++ {
		e := at(s * logSector)
		if e == nil {
			continue
		}
		run := []logEntry{*e}
		span := e.length
		for {
			prev := run[len(run)-1]
			next := at((prev.pos + prev.length) % l)
			if next == nil || next.seq != prev.seq+1 || span+next.length > l {
				break
			}
			run = append(run, *next)
			span += next.length
		}
		head, bestHead := run[len(run)-1].seq, uint64(0)
		if best != nil {
			bestHead = best[len(best)-1].seq
		}
		if best == nil || head > bestHead || head == bestHead && len(run) > len(best) {
			best = run
		}
	}
	if best == nil {
		return nil
	}
	tail := best[len(best)-1].tail
	for i, e := range best {
		if e.pos == tail {
			return best[i:]
		}
	}
	return best
}

// writes materializes an entry's descriptors, in order.
func (e logEntry) writes(log []byte) []logWrite {
	out := make([]logWrite, 0, len(e.descs))
	for _, d := range e.descs {
		w := logWrite{off: int64(d.off)}
		if d.zero {
			w.zeroLen = int64(d.zeroLen)
		} else {
			w.data = make([]byte, logSector)
			binary.LittleEndian.PutUint64(w.data, d.leading)
			copy(w.data[8:4092], log[d.dataPos+8:d.dataPos+4092])
			binary.LittleEndian.PutUint32(w.data[4092:], d.trailing)
		}
		out = append(out, w)
	}
	return out
}

// logOverlay is a log replayed in memory, for read-only opens: later
// writes win, as they would on disk.
type logOverlay struct {
	writes []logWrite
}

func (o *logOverlay) apply(p []byte, off int64) {
	if o == nil {
		return
	}
	end := off + int64(len(p))
	for _, w := range o.writes {
		lo, hi := max(w.off, off), min(w.off+w.len(), end)
		if lo >= hi {
			continue
		}
		if w.data == nil {
			clear(p[lo-off : hi-off])
		} else {
			copy(p[lo-off:hi-off], w.data[lo-w.off:hi-w.off])
		}
	}
}

// logEntryParams describe an entry to encode.
type logEntryParams struct {
	guid          guid
	seq           uint64
	tail          int64
	flushed, last int64
	writes        []logWrite // data writes are 4 KiB sectors at 4 KiB offsets
}

// encodeLogEntry builds a complete entry with its checksum.
func encodeLogEntry(p logEntryParams) []byte {
	var nData int64
	for _, w := range p.writes {
		if w.data != nil {
			nData++
		}
	}
	ds := int64(descSectors(uint64(len(p.writes))))
	b := make([]byte, (ds+nData)*logSector)
	le := binary.LittleEndian
	copy(b, sigLogEntry)
	le.PutUint32(b[8:], uint32(len(b)))
	le.PutUint32(b[12:], uint32(p.tail))
	le.PutUint64(b[16:], p.seq)
	le.PutUint32(b[24:], uint32(len(p.writes)))
	copy(b[32:48], p.guid[:])
	le.PutUint64(b[48:], uint64(p.flushed))
	le.PutUint64(b[56:], uint64(p.last))
	data := ds * logSector
	for i, w := range p.writes {
		d := b[64+32*i:]
		le.PutUint64(d[16:], uint64(w.off))
		le.PutUint64(d[24:], p.seq)
		if w.data == nil {
			copy(d, sigLogZero)
			le.PutUint64(d[8:], uint64(w.zeroLen))
			continue
		}
		copy(d, sigLogDesc)
		le.PutUint32(d[4:], le.Uint32(w.data[4092:]))
		le.PutUint64(d[8:], le.Uint64(w.data))
		s := b[data : data+logSector]
		copy(s, sigLogData)
		le.PutUint32(s[4:], uint32(p.seq>>32))
		copy(s[8:4092], w.data[8:4092])
		le.PutUint32(s[4092:], uint32(p.seq))
		data += logSector
	}
	le.PutUint32(b[4:], checksumAt(b, 4))
	return b
}

// maxLogDataSectors is how many sector writes fit in one entry of at most
// half the log, so that consecutive entries never overlap.
func maxLogDataSectors(logLen int64) int {
	limit := logLen / 2 / logSector
	n := limit - 1
	for n > 0 && n+int64(descSectors(uint64(n))) > limit {
		n--
	}
	return int(n)
}

// appendLogEntry writes one entry after the previous one (wrapping around
// the end of the log), whose Tail is itself.
// FlushedFileOffset and LastFileOffset are both the file's size, made
// durable by the fsync before the entry.
func (v *vhdxImage) appendLogEntry(writes []logWrite, g guid, fileLen int64) error {
	b := encodeLogEntry(logEntryParams{guid: g, seq: v.logSeq, tail: v.logPos, flushed: fileLen, last: fileLen, writes: writes})
	pos := v.logPos
	for done := int64(0); done < int64(len(b)); {
		n := min(int64(len(b))-done, v.logLen-pos)
		if err := v.pwrite(b[done:done+n], v.logOff+pos); err != nil {
			return err
		}
		done += n
		pos = (pos + n) % v.logLen
	}
	v.logPos = pos
	v.logSeq++
	return nil
}

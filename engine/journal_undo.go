package engine

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// An undo record of format 2: a 56-byte header, then n bytes of data.
//
//	 0  uint32  magic "FBU2"
//	 4  byte    kind (recData, recZero, recZeroRange), then 3 zero bytes
//	 8  uint64  seq: the record's number, from 1, consecutive in file order
//	16  uint64  synced: records 1..synced were durable when it was appended
//	24  uint64  block: the first block it covers
//	32  uint64  end: the block past the last it covers (block+1 unless zero-range)
//	40  uint32  n: data bytes (the block's length for recData, else 0)
//	44  uint32  CRC-32C of the data, seeded with the journal's salt
//	48  uint32  zero
//	52  uint32  CRC-32C of bytes 0-51, seeded with the journal's salt
//
// The header has its own checksum, so damaged data costs only its own
// block (the header still says which block and how long the record is),
// and a damaged header is stepped over by looking for the next header
// that checks.
const (
	recHeaderSize = 56
	undoRecMagic  = 0x32554246 // "FBU2"
	// scanChunk is how much the search for the next record reads at once.
	scanChunk = 1 << 20
)

// undoRec is one undo record: blocks [block, end).
type undoRec struct {
	kind        byte
	seq, synced uint64
	block, end  int64
	n           int64  // data bytes the record holds
	data        []byte // the data, when read; valid until the next record is read
	off, size   int64  // where the record starts, and the bytes it takes
}

// encodeRecHeader builds a record header; dataSum is the data's CRC-32C
// seeded with seed, n its length.
func encodeRecHeader(seed uint32, kind byte, seq, synced uint64, block, end int64, dataSum uint32, n int) [recHeaderSize]byte {
	var h [recHeaderSize]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], undoRecMagic)
	h[4] = kind
	le.PutUint64(h[8:], seq)
	le.PutUint64(h[16:], synced)
	le.PutUint64(h[24:], uint64(block))
	le.PutUint64(h[32:], uint64(end))
	le.PutUint32(h[40:], uint32(n))
	le.PutUint32(h[44:], dataSum)
	le.PutUint32(h[52:], crc32.Update(seed, castagnoli, h[:52]))
	return h
}

// parseRecHeader decodes a record header that checks and makes sense for
// job h (ok false otherwise).
func parseRecHeader(b []byte, seed uint32, h jobHeader) (rec undoRec, dataSum uint32, ok bool) {
	le := binary.LittleEndian
	if len(b) < recHeaderSize || le.Uint32(b) != undoRecMagic || crc32.Update(seed, castagnoli, b[:52]) != le.Uint32(b[52:]) {
		return rec, 0, false
	}
	rec = undoRec{kind: b[4], seq: le.Uint64(b[8:]), synced: le.Uint64(b[16:]),
		block: int64(le.Uint64(b[24:])), end: int64(le.Uint64(b[32:])), n: int64(le.Uint32(b[40:]))}
	rec.size = recHeaderSize + rec.n
	nb := h.blocks()
	if rec.seq == 0 || rec.synced >= rec.seq || rec.block < 0 || rec.block >= nb || rec.end <= rec.block || rec.end > nb {
		return rec, 0, false
	}
	switch {
	case rec.kind == recData && rec.end == rec.block+1 && rec.n == h.blockLen(rec.block):
	case rec.kind == recZero && rec.end == rec.block+1 && rec.n == 0:
	case rec.kind == recZeroRange && rec.n == 0:
	default:
		return rec, 0, false
	}
	return rec, le.Uint32(b[44:]), true
}

// undoItem is what a scan meets, in file order: a record whose header
// checks (dataBad when its data, read, does not check or is cut short),
// or a stretch of bytes [rec.off, rec.off+rec.size) holding no record.
type undoItem struct {
	rec     undoRec
	bad     bool
	dataBad bool
}

// scanUndo calls fn for every item of the undo journal r (size bytes) from
// off on. With readData, data is read and checked (rec.data holds it);
// without, only headers are read and data records are not verified.
func scanUndo(r io.ReaderAt, size, off int64, h jobHeader, readData bool, fn func(undoItem) error) error {
	seed := h.seed()
	var buf []byte
	if readData {
		buf = make([]byte, h.BlockSize)
	}
	var hdr [recHeaderSize]byte
	last := uint64(0)
	parse := func(at int64) (undoRec, uint32, bool) {
		if size-at < recHeaderSize {
			return undoRec{}, 0, false
		}
		if _, err := r.ReadAt(hdr[:], at); err != nil {
			return undoRec{}, 0, false
		}
		rec, sum, ok := parseRecHeader(hdr[:], seed, h)
		return rec, sum, ok && rec.seq > last
	}
	for off < size {
		rec, sum, ok := parse(off)
		if !ok {
			next := size
			var magic [4]byte
			binary.LittleEndian.PutUint32(magic[:], undoRecMagic)
			findMagic(r, off+1, size, magic, func(at int64) bool {
				_, _, found := parse(at)
				if found {
					next = at
				}
				return found
			})
			if err := fn(undoItem{rec: undoRec{off: off, size: next - off}, bad: true}); err != nil {
				return err
			}
			off = next
			continue
		}
		rec.off = off
		it := undoItem{rec: rec}
		switch {
		case rec.size > size-off:
			it.dataBad, it.rec.size = true, size-off
		case readData:
			rec.data = buf[:rec.n]
			if rec.n > 0 {
				if _, err := r.ReadAt(rec.data, off+recHeaderSize); err != nil {
					sum++ // unreadable: as damaged
				}
			}
			if crc32.Update(seed, castagnoli, rec.data) != sum {
				it.dataBad = true
			} else {
				it.rec.data = rec.data
			}
		}
		last = rec.seq
		if err := fn(it); err != nil {
			return err
		}
		off += it.rec.size
	}
	return nil
}

// findMagic calls try for each offset in [from, size) where magic starts,
// in order, until try returns true.
func findMagic(r io.ReaderAt, from, size int64, magic [4]byte, try func(at int64) bool) {
	buf := make([]byte, scanChunk+len(magic)-1)
	for at := from; at < size; at += scanChunk {
		n, _ := r.ReadAt(buf[:min(int64(len(buf)), size-at)], at)
		b := buf[:n]
		for i := 0; ; {
			j := bytes.Index(b[i:], magic[:])
			if j < 0 || i+j >= scanChunk {
				break
			}
			if try(at + int64(i+j)) {
				return
			}
			i += j + 1
		}
	}
}

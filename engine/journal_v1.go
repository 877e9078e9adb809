package engine

import (
	"encoding/binary"
	"hash/crc32"
	"io"
)

// Format 1, written by earlier versions of failback. Its records carry no
// sequence numbers and its checkpoints no count of undo records, so a
// reader cannot tell a crash's torn tail from damage at the end of the
// file. It is still rolled back (rollback.go says when it is trusted) but
// never resumed: new journals are format 2.
//
//	resume  header, then 24-byte checkpoints: magic "FBRR", 4 zero bytes,
//	        the watermark (uint64), 4 zero bytes, a CRC-32C of bytes 0-19.
//	undo    header, then records: magic "FBUR", the kind, 3 zero bytes, the
//	        block (uint64), the data length (uint32), a CRC-32C of bytes
//	        0-19 and the data; then the data (8 bytes, the end block, for
//	        a zero-range record).
const (
	v1RecHeaderSize = 24
	v1ResumeRecSize = 24
	v1UndoRecMagic  = 0x52554246 // "FBUR"
	v1ResumeMagic   = 0x52524246 // "FBRR"
)

// encodeV1Rec builds a format-1 undo record (tests write old journals).
func encodeV1Rec(kind byte, block int64, data []byte) []byte {
	var h [v1RecHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:], v1UndoRecMagic)
	h[4] = kind
	binary.LittleEndian.PutUint64(h[8:], uint64(block))
	binary.LittleEndian.PutUint32(h[16:], uint32(len(data)))
	c := crc32.Update(crc32.Checksum(h[:20], castagnoli), castagnoli, data)
	binary.LittleEndian.PutUint32(h[20:], c)
	return append(h[:], data...)
}

// parseV1Rec reads the format-1 record at off: ok is false when there is
// none that checks.
func parseV1Rec(r io.ReaderAt, off int64, h jobHeader, buf []byte) (rec undoRec, ok bool) {
	var hdr [v1RecHeaderSize]byte
	if _, err := r.ReadAt(hdr[:], off); err != nil {
		return rec, false
	}
	kind := hdr[4]
	block := int64(binary.LittleEndian.Uint64(hdr[8:]))
	n := int64(binary.LittleEndian.Uint32(hdr[16:]))
	if binary.LittleEndian.Uint32(hdr[0:]) != v1UndoRecMagic || n > h.BlockSize || block < 0 || block >= max(h.blocks(), 1) {
		return rec, false
	}
	switch {
	case kind == recData && n > 0, kind == recZero && n == 0, kind == recZeroRange && n == 8:
	default:
		return rec, false
	}
	data := buf[:n]
	if n > 0 {
		if _, err := r.ReadAt(data, off+v1RecHeaderSize); err != nil {
			return rec, false
		}
	}
	if crc32.Update(crc32.Checksum(hdr[:20], castagnoli), castagnoli, data) != binary.LittleEndian.Uint32(hdr[20:]) {
		return rec, false
	}
	rec = undoRec{kind: kind, block: block, end: block + 1, data: data, n: n, off: off, size: v1RecHeaderSize + n}
	if kind == recZeroRange {
		rec.end, rec.data, rec.n = int64(binary.LittleEndian.Uint64(data)), nil, 0
		if rec.end <= block || rec.end > h.blocks() {
			return rec, false
		}
	}
	return rec, true
}

// scanV1 calls fn for each valid record from off on, stopping at the
// first that does not check, and returns the offset past the last valid
// one. buf must hold a block.
func scanV1(r io.ReaderAt, off int64, h jobHeader, buf []byte, fn func(undoRec) error) (int64, error) {
	for {
		rec, ok := parseV1Rec(r, off, h, buf)
		if !ok {
			return off, nil
		}
		if err := fn(rec); err != nil {
			return off, err
		}
		off += rec.size
	}
}

// v1NextRecord returns the offset of the first valid format-1 record in
// [from, size), or -1: when there is one, the records stopped at damage,
// not at a torn tail.
func v1NextRecord(r io.ReaderAt, from, size int64, h jobHeader) int64 {
	var magic [4]byte
	binary.LittleEndian.PutUint32(magic[:], v1UndoRecMagic)
	next, buf := int64(-1), make([]byte, h.BlockSize)
	findMagic(r, from, size, magic, func(at int64) bool {
		if _, ok := parseV1Rec(r, at, h, buf); ok {
			next = at
		}
		return next >= 0
	})
	return next
}

// scanResumeV1 returns the watermark of the last valid format-1 checkpoint
// (0 when none) and the offset just past it.
func scanResumeV1(r io.ReaderAt, off int64) (watermark, end int64) {
	var rec [v1ResumeRecSize]byte
	for {
		if _, err := r.ReadAt(rec[:], off); err != nil {
			return watermark, off
		}
		if binary.LittleEndian.Uint32(rec[0:]) != v1ResumeMagic ||
			crc32.Checksum(rec[:20], castagnoli) != binary.LittleEndian.Uint32(rec[20:]) {
			return watermark, off
		}
		w := int64(binary.LittleEndian.Uint64(rec[8:]))
		if w < watermark {
			return watermark, off
		}
		watermark = w
		off += v1ResumeRecSize
	}
}

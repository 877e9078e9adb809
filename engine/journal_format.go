package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Journal files, all in the job's JournalDir:
//
//	resume  header, then 24-byte checkpoint records: every block of the
//	        job's scope below the last valid record's watermark is
//	        finished and durable on the target.
//	undo    header, then records of original target blocks: a 24-byte
//	        record header, then the block's old bytes (none for a block
//	        that was zero). A run of blocks that were unallocated takes one
//	        record (zero-range) however long it is, so a full download onto
//	        an empty image journals almost nothing.
//	rollback  exists while a rollback is in progress: the target is
//	        partly restored, so the job may not resume.
//	lock    held (flock) while a sync or rollback uses the directory.
//
// A header is an 8-byte magic, a uint32 length, that many bytes of JSON
// (jobHeader) and a CRC-32C of everything before it. Both files are
// created under a temporary name, fsynced and renamed, so a header is
// whole or absent. Records carry a CRC-32C; reading stops at the first
// record that does not check. That is exactly right for a torn tail: an
// overwrite happens only after an fsync that covers its undo record, and
// every completed fsync covers every earlier record, so no record after a
// torn one ever had its overwrite performed.
const (
	resumeName = "resume"
	undoName   = "undo"
	lockName   = "lock"

	journalVersion = 1
	maxHeaderJSON  = 64 << 10
	recHeaderSize  = 24
	resumeRecSize  = 24
)

var (
	resumeMagic = [8]byte{'F', 'B', 'R', 'E', 'S', 'U', 'M', '1'}
	undoMagic   = [8]byte{'F', 'B', 'U', 'N', 'D', 'O', '0', '1'}
	castagnoli  = crc32.MakeTable(crc32.Castagnoli)
)

// Undo record kinds.
const (
	recData        = 1          // old bytes follow
	recZero        = 2          // the block read as zero (or was unallocated)
	recZeroRange   = 3          // blocks [block, end) were unallocated; 8 bytes of data: end
	undoRecMagic   = 0x52554246 // "FBUR"
	resumeRecMagic = 0x52524246 // "FBRR"
)

// ErrJournalCorrupt marks a journal that cannot be trusted.
var ErrJournalCorrupt = errors.New("journal is corrupt")

// jobHeader identifies a job; resume and undo carry the same one.
type jobHeader struct {
	Version   int       `json:"version"`
	Mode      Mode      `json:"mode"`
	BlockSize int64     `json:"block_size"`
	Size      int64     `json:"size"`
	SourceID  string    `json:"source_id"`
	TargetID  string    `json:"target_id"`
	Ranges    string    `json:"ranges,omitempty"` // digest of the block runs (Ranges mode)
	Created   time.Time `json:"created"`
}

// sameJob reports why h cannot continue as job o, or "" when it can.
func (h jobHeader) sameJob(o jobHeader) string {
	switch {
	case h.Mode != o.Mode:
		return fmt.Sprintf("mode %s, not %s", h.Mode, o.Mode)
	case h.BlockSize != o.BlockSize:
		return fmt.Sprintf("block size %d, not %d", h.BlockSize, o.BlockSize)
	case h.Size != o.Size:
		return fmt.Sprintf("disk size %d, not %d", h.Size, o.Size)
	case h.SourceID != o.SourceID:
		return fmt.Sprintf("source %q, not %q", h.SourceID, o.SourceID)
	case h.TargetID != o.TargetID:
		return fmt.Sprintf("target %q, not %q", h.TargetID, o.TargetID)
	case h.Ranges != o.Ranges:
		return "other ranges"
	}
	return ""
}

func encodeHeader(magic [8]byte, h jobHeader) ([]byte, error) {
	js, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 16+len(js))
	b = append(b, magic[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(js)))
	b = append(b, js...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// readHeader reads the header at the start of f and returns it with the
// offset of the first record.
func readHeader(f *os.File, magic [8]byte) (jobHeader, int64, error) {
	var h jobHeader
	var pre [12]byte
	if _, err := f.ReadAt(pre[:], 0); err != nil {
		return h, 0, fmt.Errorf("%s: %w: short header", f.Name(), ErrJournalCorrupt)
	}
	if [8]byte(pre[:8]) != magic {
		return h, 0, fmt.Errorf("%s: %w: not a failback journal of this kind", f.Name(), ErrJournalCorrupt)
	}
	n := binary.LittleEndian.Uint32(pre[8:])
	if n > maxHeaderJSON {
		return h, 0, fmt.Errorf("%s: %w: header of %d bytes", f.Name(), ErrJournalCorrupt, n)
	}
	b := make([]byte, 12+int(n)+4)
	if _, err := f.ReadAt(b, 0); err != nil {
		return h, 0, fmt.Errorf("%s: %w: short header", f.Name(), ErrJournalCorrupt)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return h, 0, fmt.Errorf("%s: %w: header checksum", f.Name(), ErrJournalCorrupt)
	}
	if err := json.Unmarshal(body[12:], &h); err != nil {
		return h, 0, fmt.Errorf("%s: %w: header: %v", f.Name(), ErrJournalCorrupt, err)
	}
	if h.Version != journalVersion {
		return h, 0, fmt.Errorf("%s: journal version %d; this failback reads version %d", f.Name(), h.Version, journalVersion)
	}
	if h.BlockSize < MinBlockSize || h.BlockSize > MaxBlockSize || h.Size < 0 {
		return h, 0, fmt.Errorf("%s: %w: block size %d, size %d", f.Name(), ErrJournalCorrupt, h.BlockSize, h.Size)
	}
	return h, int64(len(b)), nil
}

// createFile writes a new journal file with its header atomically: under
// a temporary name, fsynced, then renamed into place (the caller fsyncs
// the directory).
func createFile(dir, name string, magic [8]byte, h jobHeader) error {
	b, err := encodeHeader(magic, h)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// undoRec is one decoded undo record: blocks [block, end) (one block
// unless it is a zero-range record).
type undoRec struct {
	kind       byte
	block, end int64
	data       []byte // old bytes of a data record, valid until the next record is read
	size       int64  // bytes the record takes in the journal
}

func encodeRecHeader(kind byte, block int64, data []byte) [recHeaderSize]byte {
	var h [recHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:], undoRecMagic)
	h[4] = kind
	binary.LittleEndian.PutUint64(h[8:], uint64(block))
	binary.LittleEndian.PutUint32(h[16:], uint32(len(data)))
	c := crc32.Update(crc32.Checksum(h[:20], castagnoli), castagnoli, data)
	binary.LittleEndian.PutUint32(h[20:], c)
	return h
}

// scanUndo reads the valid records of an undo journal from off, calling fn
// for each, and returns the offset just past the last valid one. buf must
// hold a block.
func scanUndo(r io.ReaderAt, off int64, h jobHeader, buf []byte, fn func(undoRec) error) (int64, error) {
	nblocks := (h.Size + h.BlockSize - 1) / h.BlockSize
	var hdr [recHeaderSize]byte
	for {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return off, nil // end or torn tail
		}
		kind := hdr[4]
		block := int64(binary.LittleEndian.Uint64(hdr[8:]))
		n := int64(binary.LittleEndian.Uint32(hdr[16:]))
		if binary.LittleEndian.Uint32(hdr[0:]) != undoRecMagic || n > h.BlockSize || block < 0 || block >= max(nblocks, 1) {
			return off, nil
		}
		switch {
		case kind == recData && n > 0, kind == recZero && n == 0, kind == recZeroRange && n == 8:
		default:
			return off, nil
		}
		data := buf[:n]
		if n > 0 {
			if _, err := r.ReadAt(data, off+recHeaderSize); err != nil {
				return off, nil
			}
		}
		c := crc32.Update(crc32.Checksum(hdr[:20], castagnoli), castagnoli, data)
		if c != binary.LittleEndian.Uint32(hdr[20:]) {
			return off, nil
		}
		rec := undoRec{kind: kind, block: block, data: data, end: block + 1, size: recHeaderSize + n}
		if kind == recZeroRange {
			rec.end, rec.data = int64(binary.LittleEndian.Uint64(data)), nil
			if rec.end <= block || rec.end > nblocks {
				return off, nil
			}
		}
		if err := fn(rec); err != nil {
			return off, err
		}
		off += recHeaderSize + n
	}
}

func encodeResumeRec(watermark int64) [resumeRecSize]byte {
	var r [resumeRecSize]byte
	binary.LittleEndian.PutUint32(r[0:], resumeRecMagic)
	binary.LittleEndian.PutUint64(r[8:], uint64(watermark))
	binary.LittleEndian.PutUint32(r[20:], crc32.Checksum(r[:20], castagnoli))
	return r
}

// scanResume returns the watermark of the last valid checkpoint (0 when
// none) and the offset just past it.
func scanResume(r io.ReaderAt, off int64) (watermark, end int64) {
	var rec [resumeRecSize]byte
	for {
		if _, err := r.ReadAt(rec[:], off); err != nil {
			return watermark, off
		}
		if binary.LittleEndian.Uint32(rec[0:]) != resumeRecMagic ||
			crc32.Checksum(rec[:20], castagnoli) != binary.LittleEndian.Uint32(rec[20:]) {
			return watermark, off
		}
		w := int64(binary.LittleEndian.Uint64(rec[8:]))
		if w < watermark {
			return watermark, off // watermarks never go back: not ours
		}
		watermark = w
		off += resumeRecSize
	}
}

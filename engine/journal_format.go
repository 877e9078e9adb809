package engine

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
)

// Journal files, all in the job's JournalDir (format 2; format 1, written
// by earlier versions, is still read: see journal_v1.go):
//
//	resume  header, then checkpoint records: every block of the job's scope
//	        below the last valid record's watermark is finished and durable
//	        on the target, and undo records 1..N are durable; each
//	        checkpoint also lists the blocks of the undo records it is the
//	        first to count, so the resume journal knows every block the
//	        undo journal must hold, whatever happens to the undo journal.
//	undo    header, then records of original target blocks (journal_undo.go):
//	        a 56-byte record header with its own CRC-32C, then the block's
//	        old bytes with theirs (none for a block that was zero, or for a
//	        run of blocks that were unallocated: one zero-range record
//	        however long the run, so a full download onto an empty image
//	        journals almost nothing).
//	rollback  exists while a rollback is in progress: the target is
//	        partly restored, so the job may not resume.
//	lock    held (flock) while a sync or rollback uses the directory.
//
// A header is an 8-byte magic, a uint32 length, that many bytes of JSON
// (jobHeader) and a CRC-32C of everything before it. Both files are
// created under a temporary name, fsynced and renamed, so a header is
// whole or absent; both carry the same JSON, so either one can stand in
// for the other when one is damaged. The header's random salt seeds every
// record's CRC-32C: bytes of another journal (or of a disk holding one)
// never pass for a record of this one.
//
// Records are numbered (seq) and each undo record says how many records
// were durable when it was appended (synced). The witness of a journal is
// the highest count any valid record or checkpoint vouches for: every
// record up to it was durable, so its overwrite may have happened and it
// must be there. A record missing at or below the witness is damage, and
// a rollback that meets it restores every other block, keeps the journal
// and names the blocks it could not restore (JournalDamage). Above the
// witness an unreadable record is the torn tail of a crash: no overwrite
// happens before an fsync covering its record, and every fsync covers
// every earlier record, so no record after a torn one had its overwrite
// performed. A damaged record never hides the ones after it: the reader
// finds the next record header by its magic and checksum.
const (
	resumeName = "resume"
	undoName   = "undo"
	lockName   = "lock"

	journalVersion = 2
	maxHeaderJSON  = 64 << 10
)

var (
	resumeMagic = [8]byte{'F', 'B', 'R', 'E', 'S', 'U', 'M', '1'}
	undoMagic   = [8]byte{'F', 'B', 'U', 'N', 'D', 'O', '0', '1'}
	castagnoli  = crc32.MakeTable(crc32.Castagnoli)
)

// Undo record kinds (both formats).
const (
	recData      = 1 // old bytes follow
	recZero      = 2 // the block read as zero (and was allocated)
	recZeroRange = 3 // blocks [block, end) were unallocated
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
	// Salt (16 hex digits, format 2) seeds the CRC-32C of every record.
	Salt string `json:"salt,omitempty"`
}

// newSalt returns a random salt for a new journal.
func newSalt() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// seed is the CRC-32C state records of this journal start from.
func (h jobHeader) seed() uint32 {
	b, _ := hex.DecodeString(h.Salt)
	return crc32.Checksum(b, castagnoli)
}

// blocks is the number of blocks of the disk.
func (h jobHeader) blocks() int64 { return (h.Size + h.BlockSize - 1) / h.BlockSize }

// blockLen is the length of block b (the last one may be short).
func (h jobHeader) blockLen(b int64) int64 { return min(h.BlockSize, h.Size-b*h.BlockSize) }

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
	if h.Version != 1 && h.Version != journalVersion {
		return h, 0, fmt.Errorf("%s: journal format %d; this failback reads formats 1 and %d: use the failback that wrote it", f.Name(), h.Version, journalVersion)
	}
	if _, err := hex.DecodeString(h.Salt); err != nil || h.Version == journalVersion && len(h.Salt) != 16 {
		return h, 0, fmt.Errorf("%s: %w: header salt %q", f.Name(), ErrJournalCorrupt, h.Salt)
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

package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/failback/failback/engine/enginetest"
)

// v1Journal writes the journal an earlier failback (format 1) would have
// left after syncing a 8-block disk: block 1 held data, blocks 3-5 were
// unallocated, block 6 was allocated zeros. It returns the directory,
// the original target and the target as the sync left it.
func v1Journal(t *testing.T) (dir string, orig []byte, synced *enginetest.MemDisk) {
	t.Helper()
	const bs = 4 << 10
	dst := enginetest.NewMemDisk(8*bs, bs)
	old := bytes.Repeat([]byte{0x11}, bs)
	mustWrite(dst, old, 1*bs)
	mustWrite(dst, make([]byte, bs), 6*bs)
	orig = dst.Bytes()
	dir = filepath.Join(t.TempDir(), "j")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h := jobHeader{Version: 1, Mode: Full, BlockSize: bs, Size: 8 * bs, SourceID: "src", TargetID: damageTarget, Created: time.Now().UTC()}
	for name, magic := range map[string][8]byte{resumeName: resumeMagic, undoName: undoMagic} {
		if err := createFile(dir, name, magic, h); err != nil {
			t.Fatal(err)
		}
	}
	var end [8]byte
	binary.LittleEndian.PutUint64(end[:], 6)
	var recs []byte
	recs = append(recs, encodeV1Rec(recData, 1, old)...)
	recs = append(recs, encodeV1Rec(recZeroRange, 3, end[:])...)
	recs = append(recs, encodeV1Rec(recZero, 6, nil)...)
	appendFile(t, filepath.Join(dir, undoName), recs)
	var ck [v1ResumeRecSize]byte
	binary.LittleEndian.PutUint32(ck[0:], v1ResumeMagic)
	binary.LittleEndian.PutUint64(ck[8:], 8)
	binary.LittleEndian.PutUint32(ck[20:], crc32.Checksum(ck[:20], castagnoli))
	appendFile(t, filepath.Join(dir, resumeName), ck[:])
	synced = dst.Clone()
	for _, b := range []int64{1, 4, 6} {
		mustWrite(synced, bytes.Repeat([]byte{0xee}, bs), b*bs)
	}
	return dir, orig, synced
}

// TestFormat1JournalStillRollsBack: a journal of the previous version
// rolls back exactly, and ReadJournal describes it; it cannot be resumed.
func TestFormat1JournalStillRollsBack(t *testing.T) {
	dir, orig, synced := v1Journal(t)
	info, err := ReadJournal(dir)
	if err != nil || info.Format != 1 || info.UndoRecords != 3 || !info.Finished {
		t.Fatalf("ReadJournal of a format-1 journal: %+v %v", info, err)
	}
	src := enginetest.NewMemDisk(synced.Size(), 0)
	_, err = Sync(bg, src, synced.Clone(), Options{Mode: Full, BlockSize: 4 << 10, JournalDir: dir, SourceID: "src", TargetID: damageTarget})
	if !errors.Is(err, ErrOldJournal) {
		t.Fatalf("resuming a format-1 journal: %v", err)
	}
	if _, err := Rollback(bg, dir, synced, RollbackOptions{TargetID: damageTarget}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(synced.Bytes(), orig) {
		t.Fatal("the format-1 rollback did not restore the target")
	}
	if exists(dir) {
		t.Fatal("the journal was left behind")
	}
}

// TestFormat1JournalWithUnreadableEnd: format 1 cannot tell a crash's
// torn tail from damage, so a journal ending in bytes that are not a
// record is refused (every readable record restored, the journal kept)
// unless the caller accepts it as a torn tail; records after damage are
// still restored, and that journal refused whatever the caller says.
func TestFormat1JournalWithUnreadableEnd(t *testing.T) {
	dir, orig, synced := v1Journal(t)
	appendFile(t, filepath.Join(dir, undoName), []byte("torn record"))
	_, err := Rollback(bg, dir, synced, RollbackOptions{TargetID: damageTarget})
	var d *JournalDamage
	if !errors.As(err, &d) || !d.Legacy || d.Midway || !errors.Is(err, ErrRollbackIncomplete) || !exists(filepath.Join(dir, undoName)) {
		t.Fatalf("a format-1 journal with a tail: %v", err)
	}
	if _, err := Rollback(bg, dir, synced, RollbackOptions{TargetID: damageTarget, AcceptTornTail: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(synced.Bytes(), orig) || exists(dir) {
		t.Fatal("an accepted torn tail: the target is not restored or the journal is left")
	}

	dir, orig, synced = v1Journal(t)
	b, _ := os.ReadFile(filepath.Join(dir, undoName))
	_, off := headerOf(t, b)
	b[off+v1RecHeaderSize+100] ^= 1 // the data of the first record
	if err := os.WriteFile(filepath.Join(dir, undoName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Rollback(bg, dir, synced, RollbackOptions{TargetID: damageTarget, AcceptTornTail: true})
	if !errors.As(err, &d) || !d.Midway || !exists(filepath.Join(dir, undoName)) {
		t.Fatalf("a format-1 journal damaged in the middle: %v", err)
	}
	got := synced.Bytes()
	if diff := differing(got, orig, 4<<10); !equalInts(diff, []int64{1}) {
		t.Fatalf("the records after the damage were not all restored: blocks %v differ", diff)
	}
	t.Log(err)
}

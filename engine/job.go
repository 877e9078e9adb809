package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// rollbackName marks a rollback in progress: while it exists the target is
// partly restored, so the job may neither resume nor be discarded.
const rollbackName = "rollback"

// Errors about journal directories.
var (
	// ErrJobMismatch: the journal directory holds another job (other mode,
	// block size, source, target or ranges). Resume it with the same
	// options, roll it back, or discard it.
	ErrJobMismatch = errors.New("journal directory holds a different job")
	// ErrRollbackPending: a rollback of this journal started and did not
	// finish; run it again.
	ErrRollbackPending = errors.New("a rollback of this journal is unfinished")
	// ErrNoJournal: the directory holds no journal.
	ErrNoJournal = errors.New("no journal in this directory")
	// ErrJournalBusy: another sync or rollback uses the directory now.
	ErrJournalBusy = errors.New("journal directory is in use by another sync or rollback")
)

// ErrOldJournal: the journal was written by an earlier failback (format
// 1); it can be rolled back or discarded, not resumed.
var ErrOldJournal = errors.New("journal of an earlier failback version")

// job is an open journal directory.
type job struct {
	dir       string
	lockf     *os.File
	hdr       jobHeader
	resumeF   *os.File
	resumeEnd int64
	watermark int64  // from the last valid checkpoint
	from      int64  // the watermark this run started from
	records   uint64 // undo records the last checkpoint counts
	undoEnd   int64  // the undo journal's length through them
	undoF     *os.File
	undo      *undoLog
	// index knows the blocks that already have an undo record.
	index   *undoIndex
	resumed bool
}

// openJob opens dir for job want: creates its journals, or reopens them
// to resume. A different job, an unfinished rollback, a damaged journal
// or a state that no order of events of ours can produce is refused.
func openJob(dir string, want jobHeader) (_ *job, err error) {
	if err := mkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("create journal directory: %w", err)
	}
	lockf, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	j := &job{dir: dir, lockf: lockf, hdr: want, index: newUndoIndex()}
	defer func() {
		if err != nil {
			j.close()
		}
	}()
	if exists(filepath.Join(dir, rollbackName)) {
		return nil, fmt.Errorf("%s: %w: finish it with failback sync --rollback %s TARGET (or engine.Rollback)", dir, ErrRollbackPending, dir)
	}
	existed := exists(filepath.Join(dir, resumeName))
	if err := createJournals(dir, want); err != nil {
		return nil, err
	}
	jf, err := openJournalFiles(dir, true)
	if err != nil {
		return nil, err
	}
	j.resumeF, j.undoF = jf.resume, jf.undo
	if j.resumeF == nil {
		return nil, fmt.Errorf("%s: the resume journal cannot be opened", dir)
	}
	h := jf.h
	if h.Version == 1 {
		return nil, fmt.Errorf("%s: %w (format 1): it cannot be resumed; roll it back (failback sync --rollback %s TARGET) and sync again, or discard it to keep what was synced", dir, ErrOldJournal, dir)
	}
	if why := h.sameJob(want); why != "" {
		return nil, fmt.Errorf("%s: %w (it has %s): rerun with the job's options, roll it back (failback sync --rollback %s TARGET), or discard it", dir, ErrJobMismatch, why, dir)
	}
	j.hdr = h
	rs := jf.readResume()
	j.watermark, j.from, j.records, j.undoEnd = rs.watermark, rs.watermark, rs.records, rs.undoEnd
	j.resumeEnd, j.resumed = max(rs.end, jf.off), existed
	chk := newUndoCheck(jf.off)
	var valid []blockRun
	if err := scanUndo(jf.undo, jf.undoSize, jf.off, h, true, func(it undoItem) error {
		chk.add(it)
		if !it.bad && !it.dataBad {
			valid = append(valid, blockRun{it.rec.block, it.rec.end})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	v := chk.verdict(max(rs.records, chk.witness), rs.records)
	if !v.ok() {
		return nil, damageFor(dir, targetName(h.TargetID), h, v, rs, valid)
	}
	// Drop the torn tails so new records follow valid ones, and load the
	// index from what stays.
	var pend []pendRec
	err = scanUndo(jf.undo, v.tailOff, jf.off, h, false, func(it undoItem) error {
		if !it.bad {
			j.index.load(it.rec, j.watermark)
			if it.rec.seq > rs.records {
				pend = append(pend, pendRec{seq: it.rec.seq, run: blockRun{it.rec.block, it.rec.end}, end: it.rec.off + it.rec.size})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range []struct {
		f   *os.File
		end int64
	}{{j.undoF, v.tailOff}, {j.resumeF, j.resumeEnd}} {
		if err := t.f.Truncate(t.end); err != nil {
			return nil, err
		}
		if err := t.f.Sync(); err != nil {
			return nil, err
		}
	}
	if err := jf.repairHeaders(); err != nil {
		return nil, err
	}
	j.undo = newUndoLog(j.undoF, h.seed(), v.tailOff, v.nextSeq-1, pend)
	return j, nil
}

// createJournals creates the journals of a new job in dir, or finishes a
// creation a crash interrupted, in the order that makes every state
// unambiguous: the resume journal first, then the undo journal.
func createJournals(dir string, want jobHeader) error {
	rpath, upath := filepath.Join(dir, resumeName), filepath.Join(dir, undoName)
	switch {
	case exists(rpath) && exists(upath):
		return nil
	case exists(upath):
		return fmt.Errorf("%s holds an undo journal without a resume journal (an interrupted discard or rollback): roll it back or discard it", dir)
	case !exists(rpath):
		want.Version, want.Salt = journalVersion, newSalt()
		if err := createFile(dir, resumeName, resumeMagic, want); err != nil {
			return fmt.Errorf("create resume journal: %w", err)
		}
		if err := createFile(dir, undoName, undoMagic, want); err != nil {
			return fmt.Errorf("create undo journal: %w", err)
		}
		return syncDir(dir)
	}
	// Interrupted between the two creates: nothing was overwritten yet,
	// so the resume journal holds no checkpoint.
	f, err := os.Open(rpath)
	if err != nil {
		return err
	}
	defer f.Close()
	h, off, err := readHeader(f, resumeMagic)
	if err != nil {
		return err
	}
	if fi, err := f.Stat(); err != nil || fi.Size() > off {
		return fmt.Errorf("%s: %w: the resume journal records finished blocks but the undo journal is missing", dir, ErrJournalCorrupt)
	}
	if err := createFile(dir, undoName, undoMagic, h); err != nil {
		return fmt.Errorf("create undo journal: %w", err)
	}
	return syncDir(dir)
}

// checkpoint records that every block of the scope below w is finished,
// and counts the undo records durable now. The caller has flushed the
// target first.
func (j *job) checkpoint(w int64) error {
	n, runs, end := j.undo.counted()
	if end == 0 {
		n, end = j.records, j.undoEnd // nothing new is durable
	}
	c := checkpoint{watermark: max(w, j.watermark), from: j.from, records: n, undoEnd: end, runs: runs}
	rec := encodeCheckpoint(j.hdr.seed(), c)
	if _, err := j.resumeF.WriteAt(rec, j.resumeEnd); err != nil {
		return fmt.Errorf("write resume journal: %w", err)
	}
	if err := j.resumeF.Sync(); err != nil {
		return fmt.Errorf("fsync resume journal: %w", err)
	}
	j.undo.countedUpTo(c.records)
	j.resumeEnd += int64(len(rec))
	j.watermark, j.records, j.undoEnd = c.watermark, c.records, c.undoEnd
	return nil
}

func (j *job) close() {
	for _, f := range []*os.File{j.resumeF, j.undoF, j.lockf} {
		if f != nil {
			f.Close()
		}
	}
}

// JournalInfo describes a journal directory.
type JournalInfo struct {
	Dir       string    `json:"dir"`
	Mode      Mode      `json:"mode"`
	BlockSize int64     `json:"block_size"`
	Size      int64     `json:"size"`
	SourceID  string    `json:"source_id"`
	TargetID  string    `json:"target_id"`
	Created   time.Time `json:"created"`
	// Blocks is the number of blocks of the disk; every block of the job's
	// scope below Watermark is finished and durable on the target.
	Blocks    int64 `json:"blocks"`
	Watermark int64 `json:"watermark"`
	Finished  bool  `json:"finished"`
	// UndoRecords are target blocks saved for rollback, UndoBytes their
	// stored bytes (blocks that were zero take none).
	UndoRecords int64 `json:"undo_records"`
	UndoBytes   int64 `json:"undo_bytes"`
	RollingBack bool  `json:"rolling_back"`
	// Format is the journal format (1: an earlier failback's).
	Format int `json:"format"`
	// Damaged: records the journal must hold are missing.
	Damaged bool `json:"damaged,omitempty"`
}

// ReadJournal describes the journal in dir without changing it. It reads
// record headers only: Damaged reports missing records, not damaged block
// bytes (Rollback checks those too).
func ReadJournal(dir string) (JournalInfo, error) {
	info := JournalInfo{Dir: dir, RollingBack: exists(filepath.Join(dir, rollbackName))}
	if !exists(filepath.Join(dir, undoName)) {
		rf, err := os.Open(filepath.Join(dir, resumeName))
		if errors.Is(err, os.ErrNotExist) {
			return info, fmt.Errorf("%s: %w", dir, ErrNoJournal)
		}
		if err != nil {
			return info, err
		}
		defer rf.Close()
		h, _, err := readHeader(rf, resumeMagic)
		if err != nil {
			return info, err
		}
		info.setHeader(h)
		return info, nil
	}
	jf, err := openJournalFiles(dir, false)
	if err != nil {
		return info, err
	}
	defer jf.close()
	h := jf.h
	info.setHeader(h)
	count := func(r undoRec) {
		info.UndoRecords++
		info.UndoBytes += r.n
	}
	if h.Version == 1 {
		if jf.resumeOK {
			info.Watermark, _ = scanResumeV1(jf.resume, jf.off)
		}
		_, err = scanV1(jf.undo, jf.off, h, make([]byte, h.BlockSize), func(r undoRec) error { count(r); return nil })
	} else {
		rs := jf.readResume()
		info.Watermark = rs.watermark
		chk := newUndoCheck(jf.off)
		err = scanUndo(jf.undo, jf.undoSize, jf.off, h, false, func(it undoItem) error {
			chk.add(it)
			if !it.bad && !it.dataBad {
				count(it.rec)
			}
			return nil
		})
		info.Damaged = !chk.verdict(max(rs.records, chk.witness), rs.records).ok()
	}
	info.Finished = info.Watermark >= info.Blocks
	return info, err
}

func (info *JournalInfo) setHeader(h jobHeader) {
	info.Mode, info.BlockSize, info.Size, info.Format = h.Mode, h.BlockSize, h.Size, h.Version
	info.SourceID, info.TargetID, info.Created = h.SourceID, h.TargetID, h.Created
	info.Blocks = (h.Size + h.BlockSize - 1) / h.BlockSize
}

// DiscardJournal deletes the journal in dir, committing the sync: after
// it the target can no longer be rolled back. It refuses while a rollback
// is unfinished (the target would stay half-restored). A missing directory
// is not an error.
func DiscardJournal(dir string) error {
	if !exists(dir) {
		return nil
	}
	lockf, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return err
	}
	defer lockf.Close()
	if exists(filepath.Join(dir, rollbackName)) {
		return fmt.Errorf("%s: %w: finish the rollback before discarding", dir, ErrRollbackPending)
	}
	return removeJournal(dir, resumeName, undoName)
}

// removeJournal removes names in order (each removal made durable before
// the next, as the order carries meaning), then the directory.
func removeJournal(dir string, names ...string) error {
	for _, n := range append(names, resumeName+".tmp", undoName+".tmp") {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove journal file: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	os.Remove(filepath.Join(dir, lockName))
	os.Remove(dir) // fails, harmlessly, if the caller keeps other files there
	return nil
}

// mkdirDurable creates dir if needed, making its entry durable.
func mkdirDurable(dir string) error {
	if exists(dir) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return syncDir(filepath.Dir(filepath.Clean(dir)))
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

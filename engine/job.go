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

// job is an open journal directory.
type job struct {
	dir       string
	lockf     *os.File
	hdr       jobHeader
	resumeF   *os.File
	resumeEnd int64
	watermark int64 // from the last valid checkpoint
	undoF     *os.File
	undo      *undoLog
	// index knows the blocks that already have an undo record.
	index   *undoIndex
	resumed bool
}

// openJob opens dir for job want: creates its journals, or reopens them
// to resume. A different job, an unfinished rollback, or a state that no
// order of events of ours can produce is refused.
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
	rpath, upath := filepath.Join(dir, resumeName), filepath.Join(dir, undoName)
	if !exists(rpath) {
		if exists(upath) {
			return nil, fmt.Errorf("%s holds an undo journal without a resume journal (an interrupted discard or rollback): roll it back or discard it", dir)
		}
		// Resume first: an undo journal always has a resume journal beside it.
		if err := createFile(dir, resumeName, resumeMagic, want); err != nil {
			return nil, fmt.Errorf("create resume journal: %w", err)
		}
		if err := createFile(dir, undoName, undoMagic, want); err != nil {
			return nil, fmt.Errorf("create undo journal: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return nil, err
		}
	} else {
		j.resumed = true
	}
	if j.resumeF, err = os.OpenFile(rpath, os.O_RDWR, 0); err != nil {
		return nil, err
	}
	h, off, err := readHeader(j.resumeF, resumeMagic)
	if err != nil {
		return nil, err
	}
	if why := h.sameJob(want); why != "" {
		return nil, fmt.Errorf("%s: %w (it has %s): rerun with the job's options, roll it back (failback sync --rollback %s TARGET), or discard it", dir, ErrJobMismatch, why, dir)
	}
	j.hdr = h
	j.watermark, j.resumeEnd = scanResume(j.resumeF, off)
	if err := j.resumeF.Truncate(j.resumeEnd); err != nil {
		return nil, err
	}
	if !exists(upath) {
		if j.watermark > 0 {
			return nil, fmt.Errorf("%s: %w: the resume journal records finished blocks but the undo journal is missing", dir, ErrJournalCorrupt)
		}
		// Interrupted between the two creates: nothing was overwritten yet.
		if err := createFile(dir, undoName, undoMagic, h); err != nil {
			return nil, fmt.Errorf("create undo journal: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return nil, err
		}
	}
	if j.undoF, err = os.OpenFile(upath, os.O_RDWR, 0); err != nil {
		return nil, err
	}
	uh, uoff, err := readHeader(j.undoF, undoMagic)
	if err != nil {
		return nil, err
	}
	if why := uh.sameJob(h); why != "" {
		return nil, fmt.Errorf("%s: %w: undo and resume journals belong to different jobs", dir, ErrJournalCorrupt)
	}
	buf := make([]byte, h.BlockSize)
	end, err := scanUndo(j.undoF, uoff, h, buf, func(r undoRec) error {
		j.index.load(r, j.watermark)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Drop a torn tail so new records follow valid ones.
	if err := j.undoF.Truncate(end); err != nil {
		return nil, err
	}
	j.undo = newUndoLog(j.undoF, end)
	return j, nil
}

// checkpoint records that every block of the scope below w is finished.
// The caller has flushed the target first.
func (j *job) checkpoint(w int64) error {
	rec := encodeResumeRec(w)
	if _, err := j.resumeF.WriteAt(rec[:], j.resumeEnd); err != nil {
		return fmt.Errorf("write resume journal: %w", err)
	}
	if err := j.resumeF.Sync(); err != nil {
		return fmt.Errorf("fsync resume journal: %w", err)
	}
	j.resumeEnd += resumeRecSize
	j.watermark = w
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
}

// ReadJournal describes the journal in dir without changing it.
func ReadJournal(dir string) (JournalInfo, error) {
	info := JournalInfo{Dir: dir, RollingBack: exists(filepath.Join(dir, rollbackName))}
	rf, err := os.Open(filepath.Join(dir, resumeName))
	if err == nil {
		defer rf.Close()
		h, off, err := readHeader(rf, resumeMagic)
		if err != nil {
			return info, err
		}
		info.setHeader(h)
		info.Watermark, _ = scanResume(rf, off)
		info.Finished = info.Watermark >= info.Blocks
	} else if !errors.Is(err, os.ErrNotExist) {
		return info, err
	}
	uf, err := os.Open(filepath.Join(dir, undoName))
	if errors.Is(err, os.ErrNotExist) {
		if rf == nil {
			return info, fmt.Errorf("%s: %w", dir, ErrNoJournal)
		}
		return info, nil
	}
	if err != nil {
		return info, err
	}
	defer uf.Close()
	h, off, err := readHeader(uf, undoMagic)
	if err != nil {
		return info, err
	}
	info.setHeader(h)
	_, err = scanUndo(uf, off, h, make([]byte, h.BlockSize), func(r undoRec) error {
		info.UndoRecords++
		info.UndoBytes += int64(len(r.data))
		return nil
	})
	return info, err
}

func (info *JournalInfo) setHeader(h jobHeader) {
	info.Mode, info.BlockSize, info.Size = h.Mode, h.BlockSize, h.Size
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

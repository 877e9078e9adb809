package engine

import (
	"fmt"
	"os"
	"sync"
)

// undoLog appends undo records and makes them durable with group commit:
// writers append under a mutex, then wait for an fsync that covers their
// record; one fsync serves every record appended before it started, so
// parallel writers share fsyncs instead of paying one each.
type undoLog struct {
	f *os.File

	mu       sync.Mutex
	cond     *sync.Cond
	end      int64  // append offset
	appended uint64 // records appended
	synced   uint64 // records covered by a completed fsync
	syncing  bool
	err      error // sticky: after a failed write or fsync nothing more is appended
}

func newUndoLog(f *os.File, end int64) *undoLog {
	u := &undoLog{f: f, end: end}
	u.cond = sync.NewCond(&u.mu)
	return u
}

// add appends one record and returns its sequence number for durable.
func (u *undoLog) add(kind byte, block int64, data []byte) (uint64, error) {
	hdr := encodeRecHeader(kind, block, data)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return 0, u.err
	}
	if _, err := u.f.WriteAt(hdr[:], u.end); err != nil {
		u.err = fmt.Errorf("write undo journal: %w", err)
		return 0, u.err
	}
	if len(data) > 0 {
		if _, err := u.f.WriteAt(data, u.end+recHeaderSize); err != nil {
			u.err = fmt.Errorf("write undo journal: %w", err)
			return 0, u.err
		}
	}
	u.end += recHeaderSize + int64(len(data))
	u.appended++
	return u.appended, nil
}

// durable returns once record seq is on stable storage.
func (u *undoLog) durable(seq uint64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for u.synced < seq {
		if u.err != nil {
			return u.err
		}
		if u.syncing {
			u.cond.Wait()
			continue
		}
		u.syncing = true
		upto := u.appended
		u.mu.Unlock()
		err := u.f.Sync()
		u.mu.Lock()
		u.syncing = false
		if err != nil {
			u.err = fmt.Errorf("fsync undo journal: %w", err)
		} else {
			u.synced = max(u.synced, upto)
		}
		u.cond.Broadcast()
	}
	return nil
}

package engine

import (
	"fmt"
	"hash/crc32"
	"os"
	"sync"
)

// undoLog appends undo records and makes them durable with group commit:
// writers append under a mutex, then wait for an fsync that covers their
// record; one fsync serves every record appended before it started, so
// parallel writers share fsyncs instead of paying one each.
type undoLog struct {
	f    *os.File
	seed uint32

	mu       sync.Mutex
	cond     *sync.Cond
	end      int64  // append offset
	appended uint64 // seq of the last record appended
	synced   uint64 // seq of the last record covered by a completed fsync
	syncing  bool
	err      error // sticky: after a failed write or fsync nothing more is appended
	// pend are the records no checkpoint has counted yet, in seq order.
	pend []pendRec
}

// pendRec is a record waiting to be counted by a checkpoint: its blocks
// and the journal's length through it.
type pendRec struct {
	seq uint64
	run blockRun
	end int64
}

// newUndoLog continues the journal f at end, after record last (durable).
func newUndoLog(f *os.File, seed uint32, end int64, last uint64, pend []pendRec) *undoLog {
	u := &undoLog{f: f, seed: seed, end: end, appended: last, synced: last, pend: pend}
	u.cond = sync.NewCond(&u.mu)
	return u
}

// add appends one record for blocks [block, end) and returns its sequence
// number for durable.
func (u *undoLog) add(kind byte, block, end int64, data []byte) (uint64, error) {
	sum := crc32.Update(u.seed, castagnoli, data) // outside the lock: the costly part
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return 0, u.err
	}
	seq := u.appended + 1
	hdr := encodeRecHeader(u.seed, kind, seq, u.synced, block, end, sum, len(data))
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
	u.appended = seq
	u.pend = append(u.pend, pendRec{seq: seq, run: blockRun{block, end}, end: u.end})
	return seq, nil
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

// counted returns what a checkpoint may vouch for: the records durable
// now (all appended ones unless a write or fsync failed) with the blocks
// of those not counted yet, merged, and the journal's length through
// them (0 when there are none).
func (u *undoLog) counted() (records uint64, runs []blockRun, end int64) {
	u.mu.Lock()
	last := u.appended
	u.mu.Unlock()
	_ = u.durable(last) // after a failure, synced says what is durable
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.pend {
		if p.seq > u.synced {
			break
		}
		runs, end = append(runs, p.run), p.end
	}
	return u.synced, mergeRuns(runs), end
}

// hasPending reports records no checkpoint has counted yet.
func (u *undoLog) hasPending() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.pend) > 0
}

// countedUpTo forgets the pending records up to seq once a checkpoint
// counting them is durable.
func (u *undoLog) countedUpTo(seq uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	i := 0
	for i < len(u.pend) && u.pend[i].seq <= seq {
		i++
	}
	u.pend = append(u.pend[:0], u.pend[i:]...)
}

package vdisk

import (
	"fmt"
)

// loadLog replays a non-empty log, as Hyper-V does after a crash: into the
// file for a writable open (then marks the log empty), into memory for a
// read-only one. Everything read afterwards (region tables, metadata, BAT,
// payload) sees the replayed state.
func (v *vhdxImage) loadLog() error {
	if v.hdr.LogGUID.isZero() || v.logLen == 0 {
		return nil
	}
	if v.logLen > vhdxMaxReplayLog {
		return fmt.Errorf("%s: %w: the VHDX log to replay is %d MiB; this tool replays logs up to %d MiB (open the disk in Hyper-V once to replay it)",
			v.path, ErrUnsupported, v.logLen>>20, vhdxMaxReplayLog>>20)
	}
	log := make([]byte, v.logLen)
	if err := v.pread(log, v.logOff); err != nil {
		return err
	}
	seq := findActiveSequence(log, v.hdr.LogGUID)
	if len(seq) == 0 {
		return nil // a GUID with no valid entry: nothing was committed
	}
	head := seq[len(seq)-1]
	if head.flushed > uint64(v.fileSize) {
		return corruptf(v.path, "the log says the file reached %d bytes, but it has %d: it was truncated after a crash", head.flushed, v.fileSize)
	}
	var last uint64
	for _, e := range seq {
		last = max(last, e.last)
	}
	if last > vhdxMaxFileSize {
		return corruptf(v.path, "the log claims a file size of %d bytes", last)
	}
	limit := max(v.fileSize, roundUp(int64(last), vhdxMiB))
	var writes []logWrite
	for _, e := range seq {
		for _, d := range e.descs {
			n := uint64(logSector)
			if d.zero {
				n = d.zeroLen
			}
			if d.off < vhdxHeaderSection {
				return corruptf(v.path, "log entry %d writes at file offset %d, inside the header section", e.seq, d.off)
			}
			if d.off > uint64(limit) || uint64(limit)-d.off < n {
				return corruptf(v.path, "log entry %d writes [%d, +%d), past the %d-byte file it declares", e.seq, d.off, n, limit)
			}
		}
		writes = append(writes, e.writes(log)...)
	}
	if v.readOnly {
		v.overlay = &logOverlay{writes: writes}
		v.fileSize = limit
		return nil
	}
	return v.replay(writes, limit)
}

// replay applies the log to the file. The session starts first (the spec
// wants a new FileWriteGuid before log playback) and keeps the log GUID, so a
// crash during replay replays again; only once everything is durable does
// the header say the log is empty.
func (v *vhdxImage) replay(writes []logWrite, limit int64) error {
	if err := v.begin(); err != nil {
		return err
	}
	size := v.fileSize
	for _, w := range writes {
		if w.data != nil {
			if err := v.pwrite(w.data, w.off); err != nil {
				return err
			}
			size = max(size, w.off+int64(len(w.data)))
			continue
		}
		// Zeros past the current end come from extending the file below.
		for off := w.off; off < min(w.off+w.zeroLen, size); {
			n := min(w.off+w.zeroLen, size) - off
			n = min(n, int64(len(zeroBuf)))
			if err := v.pwrite(zeroBuf[:n], off); err != nil {
				return err
			}
			off += n
		}
	}
	if size < limit {
		if err := v.f.Truncate(limit); err != nil {
			return fmt.Errorf("extend VHDX %s to %d bytes as its log requires: %w", v.path, limit, err)
		}
		size = limit
	}
	if err := v.sync(); err != nil {
		return err
	}
	v.hdrMu.Lock()
	defer v.hdrMu.Unlock()
	if err := v.updateHeaderLocked(func(h *vhdxHeader) { h.LogGUID = guid{} }); err != nil {
		return err
	}
	v.fileSize = size
	return nil
}

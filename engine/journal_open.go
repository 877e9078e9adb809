package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrJournalUnreadable marks a journal whose headers are both damaged (or
// missing): nothing in it can be used, and trying again fails the same way.
var ErrJournalUnreadable = errors.New("journal headers are unreadable")

// journalFiles are the two journals of a directory, open for reading,
// with the job header and where records start in each.
type journalFiles struct {
	h                   jobHeader
	undo, resume        *os.File // resume is nil when absent or unopenable
	undoSize, resumeEnd int64
	off                 int64 // records start here, in both files
	resumeOK            bool  // the resume journal's records can be read
	// undoBad, resumeBad: that file's header is damaged (the other's
	// stands in for it).
	undoBad, resumeBad bool
}

func (jf *journalFiles) close() {
	for _, f := range []*os.File{jf.undo, jf.resume} {
		if f != nil {
			f.Close()
		}
	}
}

// openJournalFiles opens the undo journal of dir (which must exist) and
// the resume journal beside it. Both carry the same header (the same JSON,
// hence the same length), so either one stands in for the other when it
// is damaged; both damaged is ErrJournalUnreadable.
func openJournalFiles(dir string, rw bool) (_ *journalFiles, err error) {
	jf := &journalFiles{}
	open := func(name string) (*os.File, error) {
		if rw {
			return os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
		}
		return os.Open(filepath.Join(dir, name))
	}
	defer func() {
		if err != nil {
			jf.close()
		}
	}()
	if jf.undo, err = open(undoName); err != nil {
		return nil, err
	}
	fi, err := jf.undo.Stat()
	if err != nil {
		return nil, err
	}
	jf.undoSize = fi.Size()
	uh, uoff, uerr := readHeader(jf.undo, undoMagic)
	var rh jobHeader
	var roff int64
	rerr := fmt.Errorf("%s: no resume journal", dir)
	if f, err := open(resumeName); err == nil {
		jf.resume = f
		if fi, err := f.Stat(); err == nil {
			jf.resumeEnd = fi.Size()
		}
		rh, roff, rerr = readHeader(f, resumeMagic)
	}
	// Another format version, or an I/O error: say so, as readHeader does.
	if uerr != nil && !errors.Is(uerr, ErrJournalCorrupt) {
		return nil, uerr
	}
	if jf.resume != nil && rerr != nil && !errors.Is(rerr, ErrJournalCorrupt) {
		return nil, rerr
	}
	switch {
	case uerr == nil && rerr == nil:
		if uh.sameJob(rh) != "" || uh.Salt != rh.Salt || uoff != roff {
			return nil, fmt.Errorf("%s: %w: the undo and resume journals belong to different jobs", dir, ErrJournalCorrupt)
		}
		jf.h, jf.off, jf.resumeOK = uh, uoff, true
	case uerr == nil:
		jf.h, jf.off, jf.resumeOK, jf.resumeBad = uh, uoff, jf.resume != nil, jf.resume != nil
	case rerr == nil:
		jf.h, jf.off, jf.resumeOK, jf.undoBad = rh, roff, true, true
	default:
		return nil, fmt.Errorf("%s: %w: %v; %v", dir, ErrJournalUnreadable, uerr, rerr)
	}
	return jf, nil
}

// readResume reads the resume journal's checkpoints (format 2).
func (jf *journalFiles) readResume() resumeState {
	if !jf.resumeOK || jf.h.Version < journalVersion {
		return resumeState{}
	}
	return scanResume(jf.resume, jf.resumeEnd, jf.off, jf.h)
}

// repairHeaders rewrites a damaged header from the other one (the files
// must be open for writing).
func (jf *journalFiles) repairHeaders() error {
	for _, t := range []struct {
		bad   bool
		f     *os.File
		magic [8]byte
	}{{jf.undoBad, jf.undo, undoMagic}, {jf.resumeBad, jf.resume, resumeMagic}} {
		if !t.bad {
			continue
		}
		b, err := encodeHeader(t.magic, jf.h)
		if err != nil {
			return err
		}
		if int64(len(b)) != jf.off {
			return fmt.Errorf("%s: %w: its header cannot be rebuilt", t.f.Name(), ErrJournalCorrupt)
		}
		if _, err := t.f.WriteAt(b, 0); err != nil {
			return err
		}
		if err := t.f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

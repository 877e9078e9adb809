package engine

import (
	"errors"
	"fmt"
	"strings"
)

// undoCheck follows a scan of a format-2 undo journal (fed every item in
// file order) and, once the witness is known, tells damage from a torn
// tail (see journal_format.go).
type undoCheck struct {
	next    uint64 // the seq expected next
	witness uint64 // highest synced of a record whose header checks
	records int64  // records whose header and data check
	junk    int64  // offset of the bad stretch since the last record (-1: none)
	lastEnd int64  // offset past the last record whose header checks
	gaps    []seqGap
	damaged []damagedRec
}

// seqGap: records [lo, hi) are missing (hi 0: all from lo on); the bytes
// that should hold them start at off.
type seqGap struct {
	lo, hi uint64
	off    int64
}

// damagedRec is a record whose header checks but whose data does not.
type damagedRec struct {
	seq uint64
	run blockRun
	off int64
}

func newUndoCheck(off int64) *undoCheck { return &undoCheck{next: 1, junk: -1, lastEnd: off} }

func (c *undoCheck) add(it undoItem) {
	if it.bad {
		if c.junk < 0 {
			c.junk = it.rec.off
		}
		return
	}
	r := it.rec
	if r.seq > c.next {
		off := r.off
		if c.junk >= 0 {
			off = c.junk
		}
		c.gaps = append(c.gaps, seqGap{lo: c.next, hi: r.seq, off: off})
	}
	c.junk = -1
	if it.dataBad {
		c.damaged = append(c.damaged, damagedRec{seq: r.seq, run: blockRun{r.block, r.end}, off: r.off})
	} else {
		c.records++
	}
	c.witness = max(c.witness, r.synced)
	c.next, c.lastEnd = r.seq+1, r.off+r.size
}

// verdict is what the journal's damage amounts to, given the witness w
// and the record count the resume journal's index covers.
type verdict struct {
	missing uint64     // records at or below the witness that are gone
	unknown uint64     // of those, records past the index: blocks unknown
	damaged []blockRun // blocks of records at or below w whose data is bad
	tailOff int64      // where the torn tail starts (the journal's end)
	nextSeq uint64     // the seq of the first record past the tail
}

func (c *undoCheck) verdict(w, indexed uint64) verdict {
	v := verdict{tailOff: -1}
	gaps := append(c.gaps, seqGap{lo: c.next, off: c.lastEnd})
	if c.junk >= 0 {
		gaps[len(gaps)-1].off = c.junk
	}
	tail := func(off int64, seq uint64) {
		if v.tailOff < 0 || off < v.tailOff {
			v.tailOff, v.nextSeq = off, seq
		}
	}
	for _, g := range gaps {
		hi := g.hi
		if hi == 0 || hi > w+1 {
			hi = w + 1
		}
		if g.lo < hi {
			v.missing += hi - g.lo
			if top := max(g.lo, indexed+1); top < hi {
				v.unknown += hi - top
			}
		}
		if g.hi == 0 || g.hi > w+1 {
			tail(g.off, max(g.lo, w+1))
		}
	}
	for _, d := range c.damaged {
		if d.seq <= w {
			v.damaged = append(v.damaged, d.run)
		} else {
			tail(d.off, d.seq)
		}
	}
	return v
}

// ok reports a journal that holds every record it should.
func (v verdict) ok() bool { return v.missing == 0 && len(v.damaged) == 0 }

// ErrRollbackIncomplete marks a rollback that restored every block it
// could but not all: the journal lacks the original bytes of some blocks.
// The journal is kept; running the rollback again gives the same result.
var ErrRollbackIncomplete = errors.New("rollback could not restore every block")

// JournalDamage says which blocks of a target a damaged journal cannot
// restore. It is the error of a Rollback that could not restore them all
// (every other block restored), and of a Sync that refuses to resume.
type JournalDamage struct {
	Dir       string
	Target    string
	BlockSize int64
	// Lost are the byte ranges of the target whose original bytes the
	// journal no longer holds.
	Lost []Extent
	// Unknown records are gone and their blocks cannot be named: they lie
	// at or past byte UnknownFrom of the target.
	Unknown     int64
	UnknownFrom int64
	// Legacy: a format-1 journal ending in bytes that are not a record,
	// which that format cannot tell from a crash's torn tail (TailAt is
	// the offset in the undo journal); RollbackOptions.AcceptTornTail
	// accepts it.
	// Midway: the format-1 journal is damaged at TailAt and records
	// follow; the damaged records' blocks cannot be named.
	Legacy, Midway bool
	TailAt         int64
	// RolledBack says a rollback restored every other block.
	RolledBack bool
}

func (e *JournalDamage) Unwrap() []error {
	if e.RolledBack {
		return []error{ErrJournalCorrupt, ErrRollbackIncomplete}
	}
	return []error{ErrJournalCorrupt}
}

func (e *JournalDamage) Error() string {
	var b strings.Builder
	if e.RolledBack {
		fmt.Fprintf(&b, "rollback of %s is incomplete: ", e.Target)
	}
	switch {
	case e.Midway:
		fmt.Fprintf(&b, "the undo journal in %s (format 1, written by an earlier failback) is damaged at offset %d and records follow the damage: the blocks of the damaged records cannot be named, so any block of %s may not be as before", e.Dir, e.TailAt, e.Target)
	case e.Legacy:
		fmt.Fprintf(&b, "the undo journal in %s was written by an earlier failback (format 1) and ends in bytes that are not a record (from offset %d): a crash during the sync leaves such a tail, but so does damage, and that format cannot tell them apart", e.Dir, e.TailAt)
	default:
		fmt.Fprintf(&b, "the journal in %s is damaged: it lacks the original bytes of %s", e.Dir, e.lostText())
	}
	if e.RolledBack {
		b.WriteString("; every other block was restored")
	}
	return b.String()
}

// lostText names the lost blocks: runs of blocks with their byte ranges.
func (e *JournalDamage) lostText() string {
	const most = 16
	var parts []string
	for i, x := range e.Lost {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more ranges", len(e.Lost)-most))
			break
		}
		first, last := x.Off/e.BlockSize, (x.End()-1)/e.BlockSize
		blocks := fmt.Sprintf("block %d", first)
		if last > first {
			blocks = fmt.Sprintf("blocks %d-%d", first, last)
		}
		parts = append(parts, fmt.Sprintf("%s (bytes %d-%d)", blocks, x.Off, x.End()-1))
	}
	text := ""
	if len(parts) > 0 {
		text = fmt.Sprintf("%s %s", e.Target, strings.Join(parts, ", "))
	}
	if e.Unknown > 0 {
		if text != "" {
			text += ", and of "
		}
		text += fmt.Sprintf("%d more block record(s) of %s whose blocks cannot be named (any block from byte %d on may be affected)", e.Unknown, e.Target, e.UnknownFrom)
	}
	return text + fmt.Sprintf(" (%d-byte blocks)", e.BlockSize)
}

// damageFor builds the JournalDamage of a verdict: the lost blocks are
// those of damaged records plus those the index holds and no valid
// record restored.
func damageFor(dir, target string, h jobHeader, v verdict, rs resumeState, restored []blockRun) *JournalDamage {
	lost := mergeRuns(append(subtractRuns(rs.index, mergeRuns(restored)), v.damaged...))
	e := &JournalDamage{Dir: dir, Target: target, BlockSize: h.BlockSize, Unknown: int64(v.unknown)}
	for _, r := range lost {
		off := r.first * h.BlockSize
		e.Lost = append(e.Lost, Extent{Off: off, Len: min(r.end*h.BlockSize, h.Size) - off})
	}
	switch {
	case len(lost) == 0 && v.missing > v.unknown:
		e.Unknown = int64(v.missing) // the index does not explain them: any block
	case e.Unknown > 0 && rs.ok:
		e.UnknownFrom = rs.from * h.BlockSize
	}
	return e
}

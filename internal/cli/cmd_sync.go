package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/units"
	"github.com/failback/failback/vdisk"
)

// newSyncCommand is "failback sync", the command table's entry (cli.go).
func newSyncCommand() Command {
	return Command{Name: "sync", Summary: "sync one local disk image onto another (delta or full), or roll a sync back", Run: runSync}
}

// journalSuffix names the default journal directory: DST + journalSuffix.
const journalSuffix = ".failback-journal"

const syncUsage = `sync SRC DST [--mode delta|full] [--block-size 1M] [--threads N]
           [--undo-dir DIR | --journal-dir DIR [--keep-journal] | --no-journal]
           [--verify] [--src-format F] [--dst-format F]
           [--sums FILE] [--bwlimit RATE] [--json] [--quiet]
       failback sync --rollback JOURNAL_DIR DST [--dst-format F] [--accept-torn-tail] [--json]

Makes DST (an existing image of any format: vhdx, vhd, raw) hold the bytes
of SRC. A .vhdx or .vhd name must hold that format: a file that does not
parse as one is refused as damaged, never written as raw bytes; other
names are detected from the content. --src-format and --dst-format force
a format (raw: the file's bytes as they are).
Both must have the same virtual size; create DST first with
'failback image create --size SIZE DST'. Delta mode checksums both sides
and writes only blocks that differ; full mode writes every block.

Before a block of DST is overwritten its old bytes go to the undo journal
(default DST` + journalSuffix + `). If the sync is interrupted, run the same
command again to resume, or 'failback sync --rollback DIR DST' to restore
DST exactly as it was. After a successful sync the journal is removed
unless --keep-journal is given; --undo-dir DIR is --journal-dir DIR
--keep-journal: the sync stays undoable until DIR is deleted.

A rollback restores DST's blocks and its allocation: blocks that were
unallocated before the sync are unallocated again, and a dynamic VHDX or
VHD gives their space back. A damaged journal is never a silent partial
rollback: every block it can restore is restored, the journal is kept,
and the command fails naming the blocks it could not restore.`

// syncReport is the --json output of a sync.
type syncReport struct {
	Source string `json:"source"`
	Target string `json:"target"`
	engine.Stats
	Seconds     float64 `json:"seconds"`
	JournalDir  string  `json:"journal_dir,omitempty"`
	JournalKept bool    `json:"journal_kept"`
}

// rollbackReport is the --json output of a rollback.
type rollbackReport struct {
	Target     string `json:"target"`
	JournalDir string `json:"journal_dir"`
	engine.RollbackStats
	Seconds float64 `json:"seconds"`
}

func runSync(ctx context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "sync", syncUsage)
	mode := fl.String("mode", "delta", "`delta` (checksum both sides, write differences) or full (write everything)")
	bsText := fl.String("block-size", "1M", "block `SIZE`: a power of two from 4K to 32M")
	threads := fl.Int("threads", engine.DefaultThreads, "parallel readers and writers (1-32)")
	journalDir := fl.String("journal-dir", "", "undo and resume journal `DIR` (default DST"+journalSuffix+")")
	noJournal := fl.Bool("no-journal", false, "sync without undo or resume: an interruption leaves DST half-written")
	keep := fl.Bool("keep-journal", false, "keep the undo journal after success, so the sync can still be rolled back")
	undoDir := fl.String("undo-dir", "", "keep the undo journal in `DIR` after success (--journal-dir DIR --keep-journal)")
	verify := fl.Bool("verify", false, "compare DST with SRC after the sync; a difference is an error")
	sums := fl.String("sums", "", "write DST's block checksums to `FILE` (for finding later changes)")
	bwText := fl.String("bwlimit", "0", "cap source reads at `RATE` bytes per second (e.g. 100M; 0 = none)")
	rollback := fl.String("rollback", "", "restore DST from the journal in `DIR` instead of syncing")
	acceptTail := fl.Bool("accept-torn-tail", false, "with --rollback: accept an unreadable end of a journal written by an earlier failback as a crash's torn tail")
	asJSON := fl.Bool("json", false, "print the final statistics as one JSON object on stdout")
	quiet := fl.Bool("quiet", false, "no progress on stderr")
	var fm formats
	fm.src, fm.dst = formatFlag(fl, "src-format", "SRC"), formatFlag(fl, "dst-format", "DST")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if *rollback != "" {
		if len(pos) != 1 {
			return usagef("sync --rollback JOURNAL_DIR DST: name the target image once")
		}
		return runRollback(ctx, s, *rollback, pos[0], rollbackFlags{dstFormat: *fm.dst, json: *asJSON, quiet: *quiet, acceptTail: *acceptTail})
	}
	if len(pos) != 2 {
		return usagef("sync needs SRC and DST images (got %d arguments)", len(pos))
	}
	o := engine.Options{Threads: *threads, Verify: *verify, SumsFile: *sums, NoJournal: *noJournal}
	switch m, err := engine.ParseMode(*mode); {
	case err != nil:
		return usagef("--mode: %v", err)
	case m == engine.Ranges:
		return usagef("--mode ranges needs byte ranges; this command offers delta and full")
	default:
		o.Mode = m
	}
	bs, err := config.ParseSize(*bsText)
	if err != nil {
		return usagef("--block-size: %v", err)
	}
	bw, err := config.ParseSize(*bwText)
	if err != nil {
		return usagef("--bwlimit: %v", err)
	}
	o.BlockSize, o.BandwidthLimit = bs.Bytes(), bw.Bytes()
	srcPath, dstPath := pos[0], pos[1]
	if *noJournal && (*journalDir != "" || *keep || *undoDir != "") {
		return usagef("--no-journal cannot be combined with --undo-dir, --journal-dir or --keep-journal")
	}
	if *undoDir != "" {
		if *journalDir != "" && *journalDir != *undoDir {
			return usagef("--undo-dir and --journal-dir name different directories; give one")
		}
		*journalDir, *keep = *undoDir, true
	}
	if !*noJournal {
		o.JournalDir = *journalDir
		if o.JournalDir == "" {
			o.JournalDir = dstPath + journalSuffix
		}
	}
	return doSync(ctx, s, srcPath, dstPath, fm, o, *keep, *asJSON, *quiet)
}

// formats are the formats --src-format and --dst-format force ("": none).
type formats struct{ src, dst *string }

func doSync(ctx context.Context, s Stdio, srcPath, dstPath string, fm formats, o engine.Options, keep, asJSON, quiet bool) error {
	src, dst, err := openPair(srcPath, dstPath, fm)
	if err != nil {
		return err
	}
	defer src.Close()
	if o.SourceID, err = sourceID(srcPath); err != nil {
		dst.Close()
		return err
	}
	o.TargetID = syncAbsPath(dstPath)
	resuming := ""
	if o.JournalDir != "" {
		if info, err := engine.ReadJournal(o.JournalDir); err == nil {
			if info.Finished {
				dst.Close()
				return fmt.Errorf("%s holds a finished sync (kept with --keep-journal): commit it by deleting the directory, or undo it with 'failback sync --rollback %s %s', before syncing again", o.JournalDir, o.JournalDir, dstPath)
			}
			if info.SourceID == o.SourceID && info.TargetID == o.TargetID && info.Mode == o.Mode && info.BlockSize == o.BlockSize {
				resuming = fmt.Sprintf("resuming the sync journaled in %s: %d of %d blocks were finished", o.JournalDir, info.Watermark, info.Blocks)
			}
		}
	}
	pr := newProgressPrinter(s.Err, isTerminal(s.Err))
	if !quiet {
		o.Progress = func(e engine.Progress) {
			// Said once the engine has taken the journal (it may refuse
			// it: damaged, of an earlier version).
			if resuming != "" && e.Phase != engine.PhasePrepare {
				pr.note(resuming)
				resuming = ""
			}
			pr.print(e)
		}
	}
	st, err := engine.Sync(ctx, engine.ImageSource(src), engine.ImageTarget(dst), o)
	pr.end()
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", dstPath, cerr)
	}
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Op == "mkdir" {
			return fmt.Errorf("sync %s -> %s: %w\nNothing was written: the undo journal (the target's old bytes) needs a directory that can be created; give one on a writable disk with --journal-dir DIR", srcPath, dstPath, err)
		}
		if errors.Is(err, engine.ErrJobMismatch) || errors.Is(err, engine.ErrRollbackPending) || errors.Is(err, engine.ErrJournalBusy) {
			return fmt.Errorf("sync %s -> %s: %w\nNothing was written by this command. The journal belongs to another sync of %s: finish that sync (run it again with its own options), undo it with 'failback sync --rollback %s %s', or give this sync another --journal-dir",
				srcPath, dstPath, err, dstPath, o.JournalDir, dstPath)
		}
		if msg := journalTrouble(err, o.JournalDir, dstPath, false); msg != "" {
			return fmt.Errorf("sync %s -> %s: %w\nNothing was written by this command. %s", srcPath, dstPath, err, msg)
		}
		if errors.Is(err, engine.ErrMismatch) && o.JournalDir != "" {
			return fmt.Errorf("sync %s -> %s: %w\nThe undo journal is kept in %s: undo the sync with 'failback sync --rollback %s %s'", srcPath, dstPath, err, o.JournalDir, o.JournalDir, dstPath)
		}
		if o.JournalDir != "" && !errors.Is(err, engine.ErrSizeMismatch) && syncPathExists(o.JournalDir) {
			again := "run the same command again"
			if errors.Is(err, syscall.ENOSPC) {
				again = "free space on the full volume, then run the same command again"
			}
			return fmt.Errorf("sync %s -> %s stopped after %d of %d blocks: %w\nThe journal in %s can resume it (%s) or undo it (failback sync --rollback %s %s: it gives back the space the sync took)",
				srcPath, dstPath, st.ResumedBlocks+st.BlocksChecked, st.Blocks, err, o.JournalDir, again, o.JournalDir, dstPath)
		}
		return fmt.Errorf("sync %s -> %s: %w", srcPath, dstPath, err)
	}
	kept := o.JournalDir != "" && keep
	if o.JournalDir != "" && !keep {
		if err := engine.DiscardJournal(o.JournalDir); err != nil {
			return fmt.Errorf("sync done, but removing its journal failed: %w", err)
		}
	}
	if asJSON {
		return json.NewEncoder(s.Out).Encode(syncReport{Source: srcPath, Target: dstPath, Stats: st,
			Seconds: st.Duration.Seconds(), JournalDir: o.JournalDir, JournalKept: kept})
	}
	fmt.Fprintln(s.Out, summary(srcPath, dstPath, st))
	if kept {
		fmt.Fprintf(s.Out, "undo journal kept in %s: undo with 'failback sync --rollback %s %s', or delete the directory to commit\n", o.JournalDir, o.JournalDir, dstPath)
	}
	return nil
}

// openPair opens SRC read-only and DST for writing, with the errors an
// operator can act on.
func openPair(srcPath, dstPath string, fm formats) (src, dst vdisk.Image, err error) {
	if a, b := syncAbsPath(srcPath), syncAbsPath(dstPath); a == b {
		return nil, nil, usagef("SRC and DST are the same file (%s)", a)
	}
	if a, err := os.Stat(srcPath); err == nil {
		if b, err := os.Stat(dstPath); err == nil && os.SameFile(a, b) {
			return nil, nil, usagef("SRC and DST are the same file (%s is a link to %s or the other way round)", dstPath, srcPath)
		}
	}
	if src, err = openImage(srcPath, *fm.src, "--src-format", true); err != nil {
		return nil, nil, fmt.Errorf("open source: %w", err)
	}
	if _, err := os.Stat(dstPath); errors.Is(err, os.ErrNotExist) {
		src.Close()
		return nil, nil, fmt.Errorf("%s does not exist: create it with the source's virtual size first: %s", dstPath, createHint(src.Size(), dstPath))
	}
	if dst, err = openImage(dstPath, *fm.dst, "--dst-format", false); err != nil {
		src.Close()
		return nil, nil, fmt.Errorf("open target: %w; nothing was written", err)
	}
	if src.Size() != dst.Size() {
		src.Close()
		dst.Close()
		return nil, nil, fmt.Errorf("%w: %s is %d bytes, %s is %d bytes; nothing was written. Create a target of the right size (%s) and sync onto it",
			engine.ErrSizeMismatch, srcPath, src.Size(), dstPath, dst.Size(), createHint(src.Size(), "NEW_FILE"))
	}
	return src, dst, nil
}

// createHint is the command that creates a target for a source of size
// bytes at path. Only a raw image holds a size that is not whole 512-byte
// sectors (a VHD or VHDX cannot), so then it names a raw file.
func createHint(size int64, path string) string {
	if f, _ := vdisk.FormatFromPath(path); size%512 != 0 && f != vdisk.Raw {
		return fmt.Sprintf("the source is not whole 512-byte sectors, so only a raw image can hold it: failback image create --size %d %s.raw", size, strings.TrimSuffix(path, filepath.Ext(path)))
	}
	return fmt.Sprintf("failback image create --size %d %s", size, path)
}

// sourceID names the source image and its version: a resume after the
// source changed (size or modification time) is refused.
func sourceID(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s size=%d mtime=%d", syncAbsPath(path), st.Size(), st.ModTime().UnixNano()), nil
}

func syncAbsPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func syncPathExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// rollbackFlags are the options of sync --rollback.
type rollbackFlags struct {
	dstFormat               string // --dst-format: "" as the name says
	json, quiet, acceptTail bool
}

func runRollback(ctx context.Context, s Stdio, dir, dstPath string, f rollbackFlags) error {
	dst, err := openImage(dstPath, f.dstFormat, "--dst-format", false)
	if err != nil {
		return fmt.Errorf("open target: %w", err)
	}
	pr := newProgressPrinter(s.Err, isTerminal(s.Err))
	o := engine.RollbackOptions{TargetID: syncAbsPath(dstPath), AcceptTornTail: f.acceptTail}
	if !f.quiet {
		o.Progress = func(e engine.Progress) {
			// The summary line says how it ended; the engine's final
			// "done" sample reads like a sync's ("differed 0 blocks").
			if e.Phase != engine.PhaseDone {
				pr.print(e)
			}
		}
	}
	st, err := engine.Rollback(ctx, dir, engine.ImageTarget(dst), o)
	pr.end()
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", dstPath, cerr)
	}
	if err != nil {
		if errors.Is(err, engine.ErrWrongTarget) {
			return fmt.Errorf("rollback: %w: name the image the sync wrote", err)
		}
		if errors.Is(err, engine.ErrNoJournal) {
			return fmt.Errorf("rollback of %s: %s holds no undo journal, so there is nothing to undo and %s was not touched; a sync that finishes removes its journal unless --undo-dir (or --keep-journal) kept it", dstPath, dir, dstPath)
		}
		if msg := journalTrouble(err, dir, dstPath, true); msg != "" {
			if d := (*engine.JournalDamage)(nil); errors.As(err, &d) && d.RolledBack {
				return fmt.Errorf("%w\n%s", err, msg) // it names the disk and the journal
			}
			return fmt.Errorf("rollback of %s from %s: %w\n%s", dstPath, dir, err, msg)
		}
		return fmt.Errorf("rollback of %s from %s: %w (run the same command again to finish it)", dstPath, dir, err)
	}
	if f.json {
		return json.NewEncoder(s.Out).Encode(rollbackReport{Target: dstPath, JournalDir: dir, RollbackStats: st, Seconds: st.Duration.Seconds()})
	}
	fmt.Fprintf(s.Out, "rolled back %s: %s restored (%s of old data, %s zeroed) in %s; journal %s removed\n",
		dstPath, plural(int(st.Blocks), "block"), units.Bytes(st.BytesRestored), plural(int(st.BlocksZeroed), "block"),
		st.Duration.Round(time.Millisecond), dir)
	return nil
}

// journalTrouble says what helps when a journal cannot do its job (it is
// damaged, unreadable, or of an earlier version), or "" for other errors.
// Running the same command again never helps there: it fails the same way.
func journalTrouble(err error, dir, dst string, rollback bool) string {
	var d *engine.JournalDamage
	switch {
	case errors.As(err, &d) && d.Legacy && !d.Midway:
		return fmt.Sprintf("The journal in %s is kept. If the sync was interrupted by a crash or killed, finish the rollback with 'failback sync --rollback %s %s --accept-torn-tail'; otherwise treat %s as not restored: restore it from a backup, or sync it again from its source, then delete %s.", dir, dir, dst, dst, dir)
	case errors.As(err, &d) && d.RolledBack:
		return fmt.Sprintf("%s is not as it was: the blocks named still hold what the sync wrote. The journal in %s is kept; running the rollback again gives the same result. Restore those blocks (or the whole image) from a backup, or sync %s again from its source to make it whole; then delete %s.", dst, dir, dst, dir)
	case errors.As(err, &d):
		return fmt.Sprintf("The journal can no longer undo this sync completely, so it is not resumed. Roll it back ('failback sync --rollback %s %s' restores every other block and names these again), or delete %s to keep what was synced and sync again with a new journal.", dir, dst, dir)
	case errors.Is(err, engine.ErrJournalUnreadable) && !rollback:
		return fmt.Sprintf("Running the command again fails the same way: neither journal header in %s can be read, so the journal can neither resume nor undo the sync, and %s may hold part of it. Restore %s from a backup, or sync it again with a new journal (delete %s, or give another --journal-dir).", dir, dst, dst, dir)
	case errors.Is(err, engine.ErrJournalUnreadable):
		return fmt.Sprintf("Nothing was restored, and running the command again fails the same way: neither journal header in %s can be read, so nothing in it can be trusted. Restore %s from a backup, or sync it again from its source; keep %s for inspection, or delete it.", dir, dst, dir)
	case errors.Is(err, engine.ErrJournalCorrupt):
		return fmt.Sprintf("Running the command again fails the same way. Roll the sync back ('failback sync --rollback %s %s': it restores every block the journal still holds and names the rest), or delete %s to keep what was synced.", dir, dst, dir)
	case errors.Is(err, engine.ErrOldJournal):
		return fmt.Sprintf("Roll it back ('failback sync --rollback %s %s') and sync again, or delete %s to keep what was synced.", dir, dst, dir)
	}
	return ""
}

func summary(src, dst string, st engine.Stats) string {
	var b strings.Builder
	verb := "copied"
	if st.Mode == engine.Delta {
		verb = "compared"
	}
	fmt.Fprintf(&b, "synced %s -> %s (%s, %s blocks): %d of %d blocks differed, %s transferred, %s read from source, %s %s in %s",
		src, dst, st.Mode, units.Bytes(st.BlockSize), st.BlocksDiffered, st.Blocks, units.Bytes(st.BytesTransferred),
		units.Bytes(st.BytesReadSource), units.Bytes(st.BytesChecked), verb, st.Duration.Round(time.Millisecond))
	if secs := st.Duration.Seconds(); secs > 0 {
		fmt.Fprintf(&b, " (%s/s)", units.Bytes(int64(float64(st.BytesChecked)/secs)))
	}
	if st.ResumedBlocks > 0 {
		fmt.Fprintf(&b, "; resumed, %d blocks done earlier", st.ResumedBlocks)
	}
	if st.Verified {
		b.WriteString("; verified")
	}
	return b.String()
}

// Package engine is the embedded sync engine: it makes a target disk hold
// a source disk's bytes, block by block, and can always undo that.
//
// It knows nothing of Azure, Hyper-V or the UI: it reads a Source and
// writes a Target (iface.go), counts, and lets a sampler report. Callers
// adapt their disks (ImageSource/ImageTarget for local images, the azure
// package for page blobs) and render Progress themselves.
//
// # Modes
//
// Delta hashes every block on both sides (HashBlock, XXH3-128) and writes
// the blocks whose sums differ; with a Source that is a BlockHasher (the
// Azure-side agent) the source sums come in batches and only differing
// blocks are read. Ranges writes the blocks given ranges touch. Full
// writes every block. In every mode blocks outside Source.Allocated() and
// Target.Allocated() are zero without reading, zero against zero is equal
// without reading, and a zero source block never allocates target space:
// it is skipped on an unallocated target block, released with Zeroer, or
// written as zeros only where the target already had space.
//
// # Pipeline and memory
//
// A dispatcher walks the scope in block order (a run unallocated on both
// sides is settled in one step), Threads readers read and compare, Threads
// writers journal and write. Buffers come from a fixed pool of at most
// 2*Threads slots of two blocks, capped by MemoryLimit, so memory never
// depends on the disk size. The hot path only adds to atomic counters; a
// sampler turns them into Progress about four times a second.
//
// A side that is a Viewer (a local flat image: raw or fixed VHD, through
// memory maps of a few 8 MiB windows, vdisk/view_unix.go) lends its
// blocks instead of copying them: delta mode hashes the page cache's own
// bytes and copies only a block that differs (the source's to write it,
// the target's for the undo journal). ErrNoView (no maps on this system,
// a file shorter than the disk) falls back to reading. The windows kept
// mapped are a bounded part of the page cache, whatever the disk size.
//
// # Journals (JournalDir)
//
// The undo journal receives, before the first overwrite of each target
// block in a job, the block's old bytes (or a bytes-free record that it
// was zero, or one record for a whole run of unallocated blocks), made
// durable with fsync before the overwrite; writers share fsyncs (group
// commit). Undo space grows with the changed blocks only. A block is never
// journaled twice, across resumes too, so the journal always holds the
// original bytes.
//
// Every record (format 2, journal_format.go and journal_undo.go) is
// numbered and says how many records were durable when it was appended;
// its header and its data have checksums of their own, seeded with the
// journal's random salt. The resume journal's checkpoints count the
// durable undo records and list their blocks. So the journal knows how
// many records it must hold and which blocks they cover: a record missing
// or damaged among those is damage, an unreadable record past them is
// the torn tail of a crash (no overwrite happens before an fsync covering
// its record, and every fsync covers all earlier records). A damaged
// record never hides the ones after it (the reader finds the next header
// that checks), and either file's header stands in for the other's.
//
// Rollback writes the old bytes back, refuses a journal written for
// another target (TargetID, size), and is idempotent: a rollback cut
// short is finished by running it again; meanwhile the job can neither
// resume nor be discarded. It restores every block whose record it can
// read; when the journal is damaged it then fails with a JournalDamage
// (ErrRollbackIncomplete) naming the blocks it could not restore, and
// keeps the journal: never a partial rollback reported as success. A
// resume refuses a damaged journal the same way rather than drop the
// records after the damage. Journals of format 1 (earlier versions) still
// roll back; one ending in bytes that are not a record is refused unless
// RollbackOptions.AcceptTornTail says it is a crash's torn tail, as that
// format cannot tell.
//
// Rollback gives back the allocation too: blocks unallocated before the
// sync are deallocated again (first, so a rollback after the volume filled
// up needs no space), and a target that is a Deallocator (dynamic VHDX and
// VHD) cuts its file back. For that, a journaled sync onto a Deallocator
// zeroes blocks in place instead of releasing them: a released VHDX block
// written back would move to the end of the file.
//
// The resume journal records a watermark: every block of the scope below
// it is finished and durable (the target is flushed before each record,
// about once a second, never per block). Sync with the same JournalDir
// resumes from the last watermark, redoing at most the blocks finished
// since that checkpoint. A job restarted with another mode, block size,
// size, SourceID, TargetID or ranges is refused (ErrJobMismatch) rather
// than restarted: restarting would mix two jobs' undo records. The way
// out is Rollback or DiscardJournal. A finished job run again does
// nothing. DiscardJournal commits. Several passes over one disk (delta,
// then ranges) use one journal directory each and roll back newest first,
// stopping at the first that fails.
//
// NoJournal must be asked for explicitly: an unjournaled sync cannot be
// undone or resumed.
//
// # Sums for reverse replication
//
// With SumsFile set, a sync leaves the final per-block sums of the target
// in a file (format in sums.go); ChangedBlocks later compares a disk with
// it, streaming, to find the blocks changed since without reading the
// other side.
package engine

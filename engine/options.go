package engine

import (
	"errors"
	"fmt"
	"math/bits"
	"time"
)

// Mode says which blocks a sync looks at and how it decides to write them.
type Mode string

// The sync modes.
const (
	// Delta hashes every block on both sides and transfers only the blocks
	// whose sums differ (phase 1 of "synchronize before failover").
	Delta Mode = "delta"
	// Ranges transfers only the blocks that Options.Ranges touch, without
	// comparing checksums (phase 2, catch-up passes, reverse replication).
	Ranges Mode = "ranges"
	// Full writes every block without checksums (full download).
	Full Mode = "full"
)

// ParseMode turns a command-line word into a Mode.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Delta, Ranges, Full:
		return m, nil
	}
	return "", fmt.Errorf("unknown sync mode %q: use delta, ranges or full", s)
}

// Limits and defaults of Options.
const (
	DefaultBlockSize = 1 << 20
	MinBlockSize     = 4 << 10
	// MaxBlockSize keeps two slots of two buffers inside DefaultMemoryLimit.
	MaxBlockSize = 32 << 20
	// DefaultThreads and MaxThreads follow the reference product's download
	// threads (default 4 per VM, at most 32).
	DefaultThreads = 4
	MaxThreads     = 32
	// DefaultMemoryLimit bounds the block buffers of one sync, whatever the
	// disk size.
	DefaultMemoryLimit        = 128 << 20
	DefaultProgressInterval   = 250 * time.Millisecond
	DefaultCheckpointInterval = time.Second
)

// Options configure one Sync. The zero value is not usable on its own: a
// JournalDir, or an explicit NoJournal, is required so that an unsafe sync
// is always a decision and never an accident.
type Options struct {
	// Mode defaults to Delta, the mode that writes least.
	Mode Mode
	// BlockSize is the unit of comparison, transfer and undo: a power of
	// two from MinBlockSize to MaxBlockSize (0 = DefaultBlockSize).
	BlockSize int64
	// Ranges are the byte ranges Ranges mode transfers, aligned out to
	// whole blocks; they must lie inside the disk. Ignored by other modes.
	Ranges []Extent
	// Threads is the number of parallel readers (and writers): 0 means
	// DefaultThreads, at most MaxThreads.
	Threads int
	// MemoryLimit caps block buffers (0 = DefaultMemoryLimit). The engine
	// uses up to 2*Threads slots of two BlockSize buffers, fewer if the
	// limit says so, never a number that depends on the disk size.
	MemoryLimit int64

	// JournalDir holds the undo and resume journals of this job. Running
	// Sync again with the same directory resumes the job; Rollback restores
	// the target from it; DiscardJournal commits.
	JournalDir string
	// NoJournal syncs without undo or resume: an interrupted sync leaves
	// the target half-written. Exactly one of JournalDir and NoJournal.
	NoJournal bool
	// SourceID and TargetID name the two disks (a snapshot URL, an image
	// path). They are recorded in the journal: a resume with a different
	// SourceID, or a rollback onto a different TargetID, is refused.
	SourceID string
	TargetID string

	// Verify compares the target with the source after the transfer (in
	// Ranges mode: the given ranges); any difference is an error.
	Verify bool
	// SumsFile, when set, receives the final per-block checksums of the
	// target, for ChangedBlocks (reverse replication) to find the blocks
	// that changed later without reading the other side.
	SumsFile string

	// Progress is called about every ProgressInterval and once at the end,
	// from one goroutine of its own; a slow callback delays only progress.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// CheckpointInterval is how often finished blocks are recorded in the
	// resume journal (each record costs a target flush). 0 = 1 s.
	CheckpointInterval time.Duration
	// BandwidthLimit caps source reads in bytes per second (0 = none).
	BandwidthLimit int64
	// Bandwidth, when set, is a cap shared with other syncs (the whole
	// link's); it replaces BandwidthLimit.
	Bandwidth *Bandwidth
}

// ErrSizeMismatch is returned, before anything is written, when source and
// target sizes differ: the caller must size the target first.
var ErrSizeMismatch = errors.New("source and target sizes differ")

// config is Options with defaults applied and everything checked.
type config struct {
	Options
	size    int64
	nblocks int64
	runs    []blockRun // blocks in scope, sorted, disjoint
	scope   int64      // blocks in scope
	slots   int
}

// blockRun is the block interval [first, end).
type blockRun struct{ first, end int64 }

func (o Options) resolve(srcSize, dstSize int64) (config, error) {
	c := config{Options: o}
	if c.Mode == "" {
		c.Mode = Delta
	}
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return c, err
	}
	if err := c.resolveCommon(); err != nil {
		return c, err
	}
	if c.JournalDir == "" && !c.NoJournal {
		return c, errors.New("no journal directory: set Options.JournalDir (undo and resume), or NoJournal to accept a target that an interruption leaves half-written")
	}
	if c.JournalDir != "" && c.NoJournal {
		return c, errors.New("both JournalDir and NoJournal are set: choose one")
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.BandwidthLimit < 0 {
		return c, fmt.Errorf("negative bandwidth limit %d", c.BandwidthLimit)
	}
	if srcSize < 0 || dstSize < 0 {
		return c, fmt.Errorf("negative disk size (source %d, target %d)", srcSize, dstSize)
	}
	if srcSize != dstSize {
		return c, fmt.Errorf("%w: source is %d bytes, target %d bytes: give the target the source's virtual size first", ErrSizeMismatch, srcSize, dstSize)
	}
	c.setSize(srcSize)
	if c.Mode == Ranges {
		runs, err := rangeRuns(c.Ranges, c.size, c.BlockSize)
		if err != nil {
			return c, err
		}
		c.runs = runs
	} else if c.nblocks > 0 {
		c.runs = []blockRun{{0, c.nblocks}}
	}
	for _, r := range c.runs {
		c.scope += r.end - r.first
	}
	return c, nil
}

// resolveCommon checks and defaults block size, threads and memory.
func (c *config) resolveCommon() error {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.BlockSize < MinBlockSize || c.BlockSize > MaxBlockSize || bits.OnesCount64(uint64(c.BlockSize)) != 1 {
		return fmt.Errorf("block size %d: use a power of two from %d (4 KiB) to %d (32 MiB)", c.BlockSize, MinBlockSize, MaxBlockSize)
	}
	if c.Threads == 0 {
		c.Threads = DefaultThreads
	}
	if c.Threads < 1 || c.Threads > MaxThreads {
		return fmt.Errorf("threads %d: use 1 to %d", c.Threads, MaxThreads)
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	perSlot := 2 * c.BlockSize
	c.slots = min(2*c.Threads, int(c.MemoryLimit/perSlot))
	if c.slots < 2 {
		return fmt.Errorf("memory limit %d bytes is too small for block size %d: it needs at least %d", c.MemoryLimit, c.BlockSize, 2*perSlot)
	}
	return nil
}

func (c *config) setSize(size int64) {
	c.size = size
	c.nblocks = (size + c.BlockSize - 1) / c.BlockSize
}

// blockLen is the length of block b (the last one may be short).
func (c *config) blockLen(b int64) int64 {
	return min(c.BlockSize, c.size-b*c.BlockSize)
}

package mover

import (
	"encoding/json"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/vdisk"
)

// ProtocolVersion is the version of the frames and calls below. A change
// that an older peer would misread takes a new version.
const ProtocolVersion = 1

// MaxFrame bounds one frame: a ranges pass's list of extents is the
// largest thing sent.
const MaxFrame = 64 << 20

// magic starts the mover's output, before the first frame.
const magic = "FAILBACK-MOVER "

// frame kinds.
const (
	kindHello    = "hello"    // both ways, first
	kindCall     = "call"     // driver -> mover
	kindCancel   = "cancel"   // driver -> mover: stop call ID
	kindAnswer   = "answer"   // driver -> mover: the answer to an ask
	kindProgress = "progress" // mover -> driver: engine progress of call ID
	kindLog      = "log"      // mover -> driver: a line for the job's log
	kindAsk      = "ask"      // mover -> driver: a question within call ID
	kindResult   = "result"   // mover -> driver: call ID ended
)

// frame is one message.
type frame struct {
	Kind string `json:"k"`
	// ID is the call the frame belongs to.
	ID uint64 `json:"id,omitempty"`
	// Ask numbers a question and its answer within a call.
	Ask  uint64          `json:"ask,omitempty"`
	Op   string          `json:"op,omitempty"`
	Body json.RawMessage `json:"body,omitempty"`
	Err  *wireError      `json:"err,omitempty"`
}

// Hello is what each side says first.
type Hello struct {
	Protocol int    `json:"protocol"`
	Build    string `json:"build"`
	// The mover's side says where it runs.
	OS       string `json:"os,omitempty"`
	Arch     string `json:"arch,omitempty"`
	Exe      string `json:"exe,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	StateDir string `json:"state_dir,omitempty"`
	PID      int    `json:"pid,omitempty"`
}

// The calls.
const (
	opInspect    = "inspect"     // an image: there, its format and size, allocation, lock
	opSync       = "sync"        // one engine pass onto an image, journaled on the host
	opVerify     = "verify"      // compare an image with a snapshot
	opJournals   = "journals"    // which passes of a disk have a journal
	opRollback   = "rollback"    // one pass's journal back onto the image
	opDiscard    = "discard"     // commit: drop passes' journals
	opForget     = "forget"      // drop a disk's sums (and its empty folders)
	opChanged    = "changed"     // blocks of an image changed since its sums
	opReach      = "reach"       // can the host read this snapshot's URL
	opReachAgent = "reach-agent" // can the host read through the Azure-side agent
	opMakeTest   = "make-test"   // a test failback's disk: a differencing child or a copy
	opRemoveTest = "remove-test" // a test disk, and its folder once empty
	opTestFolder = "test-folder" // a test folder with what the host left in it
	opSpace      = "space"       // the free space of the state folder's volume
	opSend       = "send"        // reverse replication: an image's changed blocks into a page blob
)

// The asks.
const (
	askRenew = "renew" // a new URL for the call's source
)

// DiskKey names one disk of one job; the mover keeps its journals under
// it. Names are checked: none may leave the state folder.
type DiskKey struct {
	Job  string `json:"job"`
	VM   string `json:"vm"`
	Disk int    `json:"disk"`
}

// ReadOptions say how the mover reads Azure: retries and timeouts as the
// driver's configuration has them.
type ReadOptions struct {
	MaxRetries    int           `json:"max_retries,omitempty"`
	RetryDelay    time.Duration `json:"retry_delay_ns,omitempty"`
	MaxRetryDelay time.Duration `json:"max_retry_delay_ns,omitempty"`
	TryTimeout    time.Duration `json:"try_timeout_ns,omitempty"`
	Parallel      int           `json:"parallel,omitempty"`
}

// Source is a snapshot as the mover reads it. Its URL (and Key) are
// secrets: they cross in the call only, and neither side logs a frame.
type Source struct {
	// Name names the snapshot in messages (never the URL).
	Name string `json:"name"`
	Size int64  `json:"size"`
	// URL reads the snapshot alone, for ValidFor from now; the mover asks
	// for a new one before then, or when it is refused.
	URL      string        `json:"url"`
	ValidFor time.Duration `json:"valid_for_ns,omitempty"`
	// Key is the disk's data key when the disk is encrypted.
	Key  []byte      `json:"key,omitempty"`
	Read ReadOptions `json:"read"`
	// Agent, when set, reads the snapshot (the URL is its fallback).
	Agent *Agent `json:"agent,omitempty"`
}

// progressBody is a kindProgress body: the engine's sample, the agent's
// figures when the source is the agent, and what Azure's throttling
// does to the source's reads.
type progressBody struct {
	engine.Progress
	Agent    *AgentFigures `json:"agent,omitempty"`
	Throttle *throttleBody `json:"throttle,omitempty"`
}

// logLine is a kindLog body: a line for the job's log, and its attributes.
type logLine struct {
	Level string      `json:"level"`
	Text  string      `json:"text"`
	Attrs [][2]string `json:"attrs,omitempty"`
}

// access is a renewed URL.
type access struct {
	URL      string        `json:"url"`
	ValidFor time.Duration `json:"valid_for_ns,omitempty"`
}

// renewAsk is the body of a renewal ask.
type renewAsk struct {
	What  string `json:"what"`
	Force bool   `json:"force,omitempty"`
}

// SyncOptions are the engine options of one pass that cross the wire
// (callbacks and paths stay on their own side).
type SyncOptions struct {
	Mode           engine.Mode     `json:"mode"`
	BlockSize      int64           `json:"block_size,omitempty"`
	Ranges         []engine.Extent `json:"ranges,omitempty"`
	Threads        int             `json:"threads,omitempty"`
	MemoryLimit    int64           `json:"memory_limit,omitempty"`
	SourceID       string          `json:"source_id"`
	TargetID       string          `json:"target_id"`
	Verify         bool            `json:"verify,omitempty"`
	Sums           bool            `json:"sums,omitempty"`
	BandwidthLimit int64           `json:"bandwidth_limit,omitempty"`
	// Bandwidth, in this process only (never sent to a mover), is a cap
	// shared with other syncs; it replaces BandwidthLimit.
	Bandwidth *engine.Bandwidth `json:"-"`
}

// syncCall is opSync's body.
type syncCall struct {
	Disk    DiskKey     `json:"disk"`
	Pass    int         `json:"pass"`
	Image   string      `json:"image"`
	Parent  string      `json:"parent,omitempty"`
	Source  Source      `json:"source"`
	Options SyncOptions `json:"options"`
}

// VerifyOptions are engine.VerifyOptions without callbacks.
type VerifyOptions struct {
	// WholeIfCheap compares the whole disk (not Ranges) when the source
	// computes checksums next to the data (CheapSums).
	WholeIfCheap   bool            `json:"whole_if_cheap,omitempty"`
	BlockSize      int64           `json:"block_size,omitempty"`
	Threads        int             `json:"threads,omitempty"`
	MemoryLimit    int64           `json:"memory_limit,omitempty"`
	Ranges         []engine.Extent `json:"ranges,omitempty"`
	BandwidthLimit int64           `json:"bandwidth_limit,omitempty"`
	// Bandwidth: as SyncOptions.Bandwidth.
	Bandwidth *engine.Bandwidth `json:"-"`
}

// verifyCall is opVerify's body.
type verifyCall struct {
	Image   string        `json:"image"`
	Parent  string        `json:"parent,omitempty"`
	Source  Source        `json:"source"`
	Options VerifyOptions `json:"options"`
}

// passCall names one pass of a disk (opRollback, opDiscard) or a disk's
// passes (opJournals).
type passCall struct {
	Disk   DiskKey `json:"disk"`
	Passes []int   `json:"passes,omitempty"`
	Image  string  `json:"image,omitempty"`
	Parent string  `json:"parent,omitempty"`
	// TargetID must match what the journal recorded (opRollback).
	TargetID string `json:"target_id,omitempty"`
}

// Blob is a page blob the mover writes (reverse replication), through a
// URL reading and writing it alone, under the lease the driver holds.
// URL and Key are secrets, as a Source's.
type Blob struct {
	Name     string        `json:"name"`
	URL      string        `json:"url"`
	ValidFor time.Duration `json:"valid_for_ns,omitempty"`
	LeaseID  string        `json:"lease_id,omitempty"`
	Key      []byte        `json:"key,omitempty"`
	Read     ReadOptions   `json:"read"`
}

// sendCall is opSend's body.
type sendCall struct {
	Disk    DiskKey     `json:"disk"`
	Image   string      `json:"image"`
	Parent  string      `json:"parent,omitempty"`
	Target  Blob        `json:"target"`
	Options SyncOptions `json:"options"`
}

// changedCall is opChanged's body.
type changedCall struct {
	Disk    DiskKey `json:"disk"`
	Image   string  `json:"image"`
	Parent  string  `json:"parent,omitempty"`
	Threads int     `json:"threads,omitempty"`
}

// inspectCall is opInspect's body.
type inspectCall struct {
	Image string `json:"image"`
	// Allocation asks for the image's allocated extents too.
	Allocation bool `json:"allocation,omitempty"`
	// Lock tries the image's write lock (and lets it go).
	Lock bool `json:"lock,omitempty"`
}

// Image is what opInspect found.
type Image struct {
	Exists bool        `json:"exists"`
	Info   *vdisk.Info `json:"info,omitempty"`
	// Allocated is the image's allocation (when asked).
	Allocated []vdisk.Extent `json:"allocated,omitempty"`
	// Problem says why the image cannot be opened (Corrupt: its
	// structures are damaged).
	Problem string `json:"problem,omitempty"`
	Corrupt bool   `json:"corrupt,omitempty"`
	// LockProblem says why the image cannot be locked for writing, and
	// LockHint what to do about it.
	LockProblem string `json:"lock_problem,omitempty"`
	LockHint    string `json:"lock_hint,omitempty"`
}

// Space is a volume's room, as hyperv measures it.
type Space struct {
	Folder string `json:"folder"`
	Volume string `json:"volume"`
	Free   int64  `json:"free"`
	Total  int64  `json:"total"`
}

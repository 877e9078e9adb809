package workflow

import "time"

// JobView is a consistent snapshot of a job for display.
type JobView struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"` // plan or VM name
	Choices Choices   `json:"choices"`
	State   JobState  `json:"state"`
	Pass    int       `json:"pass"` // catch-up pass number
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Owner   Actor     `json:"owner"`
	Error   string    `json:"error,omitempty"`
	VMs     []VMView  `json:"vms"`
	// Phase names what the job does now, as every front end labels its
	// progress ("phase 1", "catch-up pass 2", "phase 2: final delta",
	// "verifying", "starting on premises", "pending commit"): the
	// figures below are of this phase.
	Phase string `json:"phase"`
	// Percent (0-100) of Phase over all the job's disks, each weighted by
	// its size: a disk not started yet counts as 0, so it never goes back
	// within a phase. Resting states say 100 of what they finished; a
	// cancelled or undone job 0 (see DoneText).
	Percent float64 `json:"percent"`
	// ETA of Phase from the rate measured over it (0: not measured yet).
	ETA time.Duration `json:"eta"`
	// Totals are the job's figures over every pass.
	Totals JobTotals `json:"totals"`
	// CompleteNow is what Complete failover would cost if pressed now,
	// measured now, while the job is ready to complete (nil otherwise).
	CompleteNow *CompleteEstimate `json:"complete_now,omitempty"`
	// Wait says what the job waits for now, with how long it has waited
	// and its timeout ("group 2 starts once db01 answers ..."), "" when
	// it waits for nothing.
	Wait string `json:"wait,omitempty"`
	// NextReverse is when the next reverse replication cycle starts
	// (zero unless reverse replication runs continuously).
	NextReverse time.Time `json:"next_reverse,omitzero"`
	// Azure lists what the job holds in Azure: its snapshots not deleted
	// yet, and which of them are being read (a managed disk's snapshot
	// then has an active read grant, a SAS).
	Azure []HeldSnapshot `json:"azure,omitempty"`
	// ReverseCycles counts finished reverse replication cycles, the last
	// at LastReverse.
	ReverseCycles int       `json:"reverse_cycles,omitempty"`
	LastReverse   time.Time `json:"last_reverse,omitzero"`
	// Downtime is where phase 2's time went (nil before phase 2).
	Downtime *DowntimeView `json:"downtime,omitempty"`
	// Hosts are the job's Hyper-V hosts and how fast each moves now.
	Hosts []HostView `json:"hosts,omitempty"`
	// Test is a test failback's report; nil for a real failback.
	Test *TestReport `json:"test,omitempty"`
}

// JobTotals are a job's figures over all its passes.
type JobTotals struct {
	// Moved is every byte written onto the on-premises disks by every
	// pass (phase 1, catch-up, final or full), what runs now included.
	Moved int64 `json:"moved"`
	// Passes counts the passes synced onto the disks.
	Passes int `json:"passes"`
	// FinalDelta is what the final pass (or the full download) moved
	// while the Azure VMs were off; FinalDone says it has finished.
	FinalDelta int64 `json:"final_delta"`
	FinalDone  bool  `json:"final_done,omitempty"`
	// Downtime is from the moment the Azure VMs were told to stop to the
	// moment the last on-premises group ran; DowntimeLive says it is
	// still counting (the job is in phase 2).
	Downtime     time.Duration `json:"downtime,omitempty"`
	DowntimeLive bool          `json:"downtime_live,omitempty"`
}

// CompleteEstimate is what Complete failover would move and cost now.
type CompleteEstimate struct {
	// Bytes is about what changed in Azure since the last snapshot the
	// disks hold: the rate of change the catch-up passes measured times
	// the time since.
	Bytes int64 `json:"bytes"`
	// Downtime is about how long the VMs would be down: stopping the
	// Azure VMs, the final snapshot, moving and verifying Bytes at the
	// measured rate, starting on premises.
	Downtime time.Duration `json:"downtime"`
	// Since is when the disks' newest snapshot was taken.
	Since time.Time `json:"since"`
	// Basis says how it was measured (or what was assumed).
	Basis string `json:"basis"`
}

// Text is the estimate as every front end says it.
func (c CompleteEstimate) Text() string {
	return "Complete now: about " + bytesText(c.Bytes) + " to move, about " + durText(c.Downtime) + " of downtime"
}

// DoneText is the job's progress as lists show it: its percentage, or
// "-" for a job whose work was rolled back or left behind.
func (v JobView) DoneText() string {
	switch v.State {
	case StateCancelled, StateUndone, StateTestEnded:
		return "-"
	}
	return pctText(v.Percent)
}

// HeldSnapshot is a snapshot a job made and has not deleted yet.
type HeldSnapshot struct {
	VM   string `json:"vm"`
	Disk string `json:"disk"`
	// Snapshot is its id (a managed disk's snapshot name, or a page
	// blob's snapshot time).
	Snapshot string `json:"snapshot"`
	// Pass is the pass that took it ("phase1", "catch-up", "final").
	Pass string `json:"pass"`
	// Reading says it is being read now (a managed disk's snapshot then
	// holds an active SAS grant).
	Reading bool `json:"reading,omitempty"`
}

// VMView is one VM of a job.
type VMView struct {
	Name        string     `json:"name"`
	Group       int        `json:"group"` // plan group, from 1
	Host        string     `json:"host"`
	AzureState  string     `json:"azure_state"`
	OnPremState string     `json:"onprem_state"`
	Phase       string     `json:"phase"`
	Disks       []DiskView `json:"disks"`
	// RecoveryPoints are the VM's recovery points, oldest first.
	RecoveryPoints []RecoveryPointView `json:"recovery_points,omitempty"`
}

// RecoveryPointView is one recovery point of reverse replication: every
// disk of the VM snapshotted together after a cycle.
type RecoveryPointView struct {
	At    time.Time `json:"at"`
	Cycle int       `json:"cycle"`
	// Sent is what that cycle sent for the VM.
	Sent int64 `json:"sent"`
	// Consistency is what the point's disks are consistent with:
	// "application-consistent", "crash-consistent", "vm-off" or "live".
	Consistency string `json:"consistency,omitempty"`
}

// DiskView is one disk's figures, each defined once here and shown alike
// by the console, status and jobs.
type DiskView struct {
	Name  string `json:"name"`  // the Azure disk's name
	Image string `json:"image"` // on-premises path as the host knows it
	Size  int64  `json:"size"`
	// Phase is the step the disk is in: "waiting", "checksum" (a delta
	// pass comparing both sides), "transfer" (a ranges pass or a full
	// download going through its scope), "verify", "done", "failed",
	// "rollback", "reverse".
	Phase string `json:"phase"`
	// Pass names the pass the figures are of ("phase 1", "catch-up 2",
	// "final", "full download", "reverse"); "" before the first.
	Pass string `json:"pass,omitempty"`
	// Mode is the pass's engine mode: "delta" (checksums of every
	// block), "ranges" (the blocks changed since the last snapshot) or
	// "full" (every allocated block, read without checksums).
	Mode string `json:"mode,omitempty"`
	// BytesChecked of BytesToCheck is the step's progress through its
	// scope: the pass's blocks while it syncs (each is compared with
	// the target before it is written), then, while verifying, the
	// blocks verified. Percent is exactly this ratio.
	BytesChecked int64 `json:"bytes_checked"`
	BytesToCheck int64 `json:"bytes_to_check"`
	// BytesTransferred is what this pass wrote so far (it stays while the
	// pass verifies); BytesToTransfer the pass's whole once every block
	// is settled (0 while unknown: a pass finds what differs as it goes).
	BytesTransferred int64 `json:"bytes_transferred"`
	BytesToTransfer  int64 `json:"bytes_to_transfer"`
	// BytesRead is what this pass read of the Azure disk (a full
	// download reads every allocated byte, however few blocks differ).
	BytesRead      int64 `json:"bytes_read"`
	BlocksChecked  int64 `json:"blocks_checked"`
	BlocksDiffered int64 `json:"blocks_differed"`
	// Moved is what every pass of the job wrote onto this disk.
	Moved int64 `json:"moved"`
	// Rate is the step's rate through its scope in bytes per second and
	// ETA its time left, both measured over the step once it has run a
	// few seconds (0 until then: early samples mislead).
	Rate float64       `json:"rate"`
	ETA  time.Duration `json:"eta"`
	// Percent of the step, 0-100: BytesChecked of BytesToCheck, 100 once
	// done. It never goes back within a step.
	Percent float64 `json:"percent"`
	Error   string  `json:"error,omitempty"`
	// Reverse is the disk's reverse replication, once it has run.
	Reverse *ReverseView `json:"reverse,omitempty"`
	// Agent is what went through the Azure-side agent for this disk,
	// over every pass and verification of the job so far; nil when the
	// disk is read straight from storage.
	Agent *AgentView `json:"agent,omitempty"`
	// Throttled says Azure refused some of this disk's requests for load
	// (429 or 503) within the last 30 seconds: failback waits as Azure
	// asks and moves the disk more gently (the throttling is Azure's,
	// not a fault). Throttles counts those answers in the sync open now,
	// and Parallel is how many requests the disk may have in flight now
	// (it adapts: more while throughput grows, fewer when throttled).
	Throttled bool  `json:"throttled,omitempty"`
	Throttles int64 `json:"throttles,omitempty"`
	Parallel  int   `json:"parallel,omitempty"`
}

// AgentView is one disk's traffic through the Azure-side agent: what it
// checked next to the data, and what crossed the link instead.
type AgentView struct {
	// AzureChecked are disk bytes whose checksums the agent computed in
	// Azure: only their checksums crossed the link.
	AzureChecked int64 `json:"azure_checked"`
	// BlockBytes are the bytes of the blocks the agent sent, before
	// compression.
	BlockBytes int64 `json:"block_bytes"`
	// LinkBytes are all bytes on the link, both ways: TLS, HTTP,
	// checksums and compressed blocks.
	LinkBytes int64 `json:"link_bytes"`
	// CompressionSaved is what compression and zero markers kept off the
	// link (of BlockBytes).
	CompressionSaved int64 `json:"compression_saved"`
	// DirectBytes were read straight from storage while the agent was
	// unreachable: they crossed the WAN in full.
	DirectBytes int64 `json:"direct_bytes,omitempty"`
	// Fallback says the agent is unreachable now and reads go straight
	// to storage; FallbackSwitches counts the times that started.
	Fallback         bool  `json:"fallback,omitempty"`
	FallbackSwitches int64 `json:"fallback_switches,omitempty"`
}

// Active says the job needs watching: it moves, or it waits for the
// operator (ready to complete, pending commit, stopped on an error).
// Committed, cancelled and undone jobs are not active.
func (v JobView) Active() bool {
	switch {
	case v.State.Moving(), v.State == StateReady, v.State == StatePendingCommit, v.State.Stopped():
		return true
	}
	return false
}

// ActiveFirst orders jobs as lists show them: active jobs first, then the
// others, each newest first as Service.Jobs gives them. It returns a new
// slice.
func ActiveFirst(jobs []JobView) []JobView {
	out := make([]JobView, 0, len(jobs))
	for _, pass := range []bool{true, false} {
		for _, j := range jobs {
			if j.Active() == pass {
				out = append(out, j)
			}
		}
	}
	return out
}

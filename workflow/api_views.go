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
	// Percent (0-100) and ETA of the current phase over all disks.
	Percent float64       `json:"percent"`
	ETA     time.Duration `json:"eta"`
	// Azure lists what the job holds in Azure: its snapshots not deleted
	// yet, and which of them are being read (a managed disk's snapshot
	// then has an active read grant, a SAS).
	Azure []HeldSnapshot `json:"azure,omitempty"`
	// ReverseCycles counts finished reverse replication cycles, the last
	// at LastReverse.
	ReverseCycles int       `json:"reverse_cycles,omitempty"`
	LastReverse   time.Time `json:"last_reverse,omitzero"`
	// Hosts are the job's Hyper-V hosts and how fast each moves now.
	Hosts []HostView `json:"hosts,omitempty"`
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
}

// DiskView is one disk's progress.
type DiskView struct {
	Name  string `json:"name"`  // blob name
	Image string `json:"image"` // on-premises path as the host knows it
	Size  int64  `json:"size"`
	// Phase is "waiting", "checksum", "transfer", "verify", "done", "failed".
	Phase string `json:"phase"`
	// Checking progress: bytes of the pass's scope compared with the
	// target so far, of BytesToCheck (delta by checksums; ranges and full
	// passes compare each block before they write it).
	BytesChecked int64 `json:"bytes_checked"`
	BytesToCheck int64 `json:"bytes_to_check"`
	// Transfer: bytes that differed and were written, of BytesToTransfer
	// (known when the pass has settled every block; 0 while unknown).
	BytesTransferred int64 `json:"bytes_transferred"`
	BytesToTransfer  int64 `json:"bytes_to_transfer"`
	BlocksChecked    int64 `json:"blocks_checked"`
	BlocksDiffered   int64 `json:"blocks_differed"`
	// Rate in bytes per second and time left, from the engine's sampler.
	Rate float64       `json:"rate"`
	ETA  time.Duration `json:"eta"`
	// Percent of the current phase, 0-100.
	Percent float64 `json:"percent"`
	Error   string  `json:"error,omitempty"`
	// Agent is what went through the Azure-side agent for this disk,
	// over every pass and verification of the job so far; nil when the
	// disk is read straight from storage.
	Agent *AgentView `json:"agent,omitempty"`
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

// Package workflow is the product's brain: recovery plans, the per-VM
// failback state machine (phase 1, catch-up, Complete failover, phase 2,
// pending commit, Commit, Reverse replicate, Cancel, Undo), jobs that outlive
// any terminal, and the event hub the console and the SSH server watch.
//
// The console and the scripts drive it only through Service; it alone
// builds engine, azure and hyperv objects from the configuration.
package workflow

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrNotAllowed is returned (wrapped) when a viewer asks for an action or
// a start; front ends test it with errors.Is.
var ErrNotAllowed = errors.New("viewers cannot act; ask an operator")

// Service is everything a front end (the console, the SSH server, the
// script commands) may ask of the workflow. Implementations are safe for
// concurrent use by many sessions.
type Service interface {
	// Plans lists the recovery plans and the single VMs that can be
	// failed back, with their groups, disks and sizes.
	Plans() []PlanInfo
	// Sites describes the source (Azure) and the on-premises targets.
	Sites() SiteInfo
	// CheckLocation checks where the chosen VMs would land (original or
	// alternate host: switch present, room for disks, VM exists).
	CheckLocation(ctx context.Context, c Choices) (LocationReport, error)
	// Estimate says, per disk, what each sync option would move and the
	// expected downtime, without changing anything.
	Estimate(ctx context.Context, c Choices) (Estimate, error)
	// Certificates lists the certificates in the store and which of the
	// chosen VMs' encrypted disks each unlocks. Empty Needed means no disk
	// is encrypted and the step can be skipped.
	Certificates(ctx context.Context, c Choices) (CertReport, error)
	// Preflight runs every check for every VM before any byte moves and
	// returns all the problems at once.
	Preflight(ctx context.Context, c Choices) (PreflightReport, error)
	// Start creates a job for the choices (after a passing pre-flight)
	// and runs it in the background; it returns the job id. ctx bounds
	// only the call, never the job: jobs belong to the service.
	Start(ctx context.Context, c Choices, who Actor) (string, error)
	// Jobs lists every job, newest first.
	Jobs() []JobView
	// Job returns one job.
	Job(id string) (JobView, bool)
	// Actions says which actions apply to the job now and, for those that
	// do not, why.
	Actions(id string, who Actor) []ActionState
	// Act performs an action; it returns once the action is accepted
	// (the job then moves on in the background). As for Start, ctx bounds
	// only the call.
	Act(ctx context.Context, id string, a Action, who Actor) error
	// Log returns the newest n log lines of a job (all jobs when id is
	// ""), oldest first.
	Log(id string, n int) []LogLine
	// Subscribe returns a channel that receives a value whenever any job
	// changes (coalesced: at most one pending notice, never blocking the
	// engine), and a function to stop. The stop function does not close
	// the channel. Read the state with Jobs/Job/Log.
	Subscribe() (<-chan struct{}, func())
}

// Direction of a failback. Only Azure to on-premises exists; the console
// still asks the operator to confirm it explicitly.
type Direction string

// DirAzureToOnPrem is the failback direction.
const DirAzureToOnPrem Direction = "azure-to-onprem"

// SyncOption is how data is synchronised.
type SyncOption string

// The sync options of docs/WORKFLOW.md step 2.
const (
	// SyncDelta is "synchronize before failover": phase 1 delta sync while
	// the Azure VM runs, catch-up passes, then a short phase 2.
	SyncDelta SyncOption = "delta"
	// SyncFull is "synchronize during failover only": shut down, download
	// everything.
	SyncFull SyncOption = "full"
)

// Location is where the VMs land.
type Location string

// Locations of docs/WORKFLOW.md step 1.
const (
	LocOriginal  Location = "original"
	LocAlternate Location = "alternate"
)

// Choices are the operator's decisions for one job.
type Choices struct {
	// Plan names a recovery plan; VM names one VM instead (exactly one).
	Plan string `json:"plan,omitempty"`
	VM   string `json:"vm,omitempty"`
	// Direction must be DirAzureToOnPrem, confirmed by the operator.
	Direction Direction  `json:"direction"`
	Location  Location   `json:"location"`
	AltHost   string     `json:"alt_host,omitempty"`
	CreateVM  bool       `json:"create_vm,omitempty"`
	Sync      SyncOption `json:"sync"`
	// CertThumbprint chooses the certificate for encrypted disks.
	CertThumbprint   string `json:"cert_thumbprint,omitempty"`
	AllowExpiredCert bool   `json:"allow_expired_cert,omitempty"`
	// DiscardSavedState accepts that an on-premises VM found Saved or
	// Paused is turned off when the job starts, its memory state
	// discarded (it would resume memory older than the disks the job
	// writes); without it such a VM is refused at pre-flight.
	DiscardSavedState bool `json:"discard_saved_state,omitempty"`
	// SwitchMap connects, at an alternate location, the adapters of a
	// switch the host lacks to one it has (original name -> host's).
	SwitchMap map[string]string `json:"switch_map,omitempty"`
	// Test makes the job a test failback (testfailback.go): phase 1 and
	// catch-up write test disks (children of the on-premises disks), the
	// Azure VMs keep running, and test VMs start on TestHost (default:
	// each VM's own host) with every adapter on TestSwitch (default: a
	// private switch the test creates). TestCopy copies the disks instead
	// of making children of them.
	Test       bool   `json:"test,omitempty"`
	TestHost   string `json:"test_host,omitempty"`
	TestSwitch string `json:"test_switch,omitempty"`
	TestCopy   bool   `json:"test_copy,omitempty"`
}

// Role says what an actor may do.
type Role string

// Roles.
const (
	RoleOperator Role = "operator"
	RoleViewer   Role = "viewer"
)

// Actor is who asks: for the audit log and for permission checks.
type Actor struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Via says how: "console", "ssh", "cli".
	Via string `json:"via"`
}

// Action is something the operator does to a job.
type Action string

// Actions of docs/WORKFLOW.md steps 2 and 5, plus Cancel and Undo.
const (
	ActComplete Action = "complete" // Complete failover: start phase 2
	ActCommit   Action = "commit"   // delete the Azure VM, keep replica
	ActReverse  Action = "reverse"  // start reverse replication
	ActCancel   Action = "cancel"   // stop and roll every target back
	ActUndo     Action = "undo"     // after phase 2: Azure runs again
	ActResume   Action = "resume"   // retry a failed or interrupted job from its journals

	// ActReverseOnce runs one reverse replication cycle, then the job
	// rests committed again (failback reverse --once).
	ActReverseOnce Action = "reverse-once"
	// ActStopReverse ends continuous reverse replication after the
	// current block; the job rests committed.
	ActStopReverse Action = "stop-reverse"
	// ActUndoRemove is Undo that also removes, with their disks, the VMs
	// the job created at an alternate location (failback undo
	// --remove-created); plain Undo keeps them, off.
	ActUndoRemove Action = "undo-remove"
	// ActEndTest ends a test failback: its test VMs, test disks and the
	// switch it created are removed (Cancel does the same to a test).
	ActEndTest Action = "end-test"
)

// ActionState says whether an action applies now and, if not, why.
type ActionState struct {
	Action  Action `json:"action"`
	Enabled bool   `json:"enabled"`
	// Why explains a disabled action ("phase 1 still running").
	Why string `json:"why,omitempty"`
	// Confirm says what the action will do, for the confirmation prompt.
	Confirm string `json:"confirm,omitempty"`
	// Hidden says the action never applies to this kind of job (End test
	// of a real failback): front ends need not offer it at all.
	Hidden bool `json:"hidden,omitempty"`
}

// JobState is where a job stands.
type JobState string

// Job states. Resting states wait for the operator.
const (
	StatePreflight     JobState = "preflight"
	StatePhase1        JobState = "phase1"            // initial delta sync, Azure VMs running
	StateCatchUp       JobState = "catch-up"          // syncing what changed since the last snapshot
	StateReady         JobState = "ready-to-complete" // resting: waiting for Complete failover
	StateShutdown      JobState = "shutting-down-azure"
	StatePhase2        JobState = "phase2" // final delta (delta) or full download (full)
	StateVerify        JobState = "verifying"
	StateStarting      JobState = "starting-onprem"
	StatePendingCommit JobState = "pending-commit" // resting
	StateCommitting    JobState = "committing"
	StateCommitted     JobState = "committed" // resting
	StateReverse       JobState = "reverse-replicating"
	StateCancelling    JobState = "cancelling"
	StateCancelled     JobState = "cancelled" // final
	StateUndoing       JobState = "undoing"
	StateUndone        JobState = "undone" // final
	StateFailed        JobState = "failed" // resting: cancel or resume
	StateInterrupted   JobState = "interrupted"

	// A test failback's own states (after phase 1 and catch-up).
	StateTestFinal    JobState = "measuring-final-pass" // the final pass a real failback would run, measured
	StateTestStarting JobState = "starting-test-vms"
	StateTesting      JobState = "testing" // resting: the test VMs run; End test
	StateEndingTest   JobState = "ending-test"
	StateTestEnded    JobState = "test-ended" // final
)

// LogLine is one event of a job's log.
type LogLine struct {
	Time  time.Time `json:"time"`
	Job   string    `json:"job"`
	Level string    `json:"level"` // info, warn, error
	Text  string    `json:"text"`
}

// PlanInfo describes a recovery plan (or a single VM: Single is true).
type PlanInfo struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Single      bool       `json:"single"`
	Groups      [][]VMInfo `json:"groups"`
}

// VMInfo describes a VM and its disks as configured.
type VMInfo struct {
	Name    string `json:"name"`
	AzureVM string `json:"azure_vm"`
	// ResourceGroup is the Azure VM's resource group.
	ResourceGroup string     `json:"resource_group,omitempty"`
	Host          string     `json:"host"`
	Switch        string     `json:"switch"`
	Generation    int        `json:"generation"`
	CPUs          int        `json:"cpus"`
	Memory        int64      `json:"memory"` // bytes
	Disks         []DiskInfo `json:"disks"`
}

// DiskInfo describes one configured disk.
type DiskInfo struct {
	// Kind is "managed" or "page-blob".
	Kind string `json:"kind"`
	// Slot is the disk's place in the Azure VM: "OS disk", "LUN 0", or a
	// page blob's name.
	Slot string `json:"slot"`
	// Name is the Azure disk's name ("" while a managed disk's is not
	// known yet); Blob is a page blob's container/name.
	Name string `json:"name,omitempty"`
	Blob string `json:"blob,omitempty"`
	// SKU is a managed disk's storage type (Premium_LRS).
	SKU   string `json:"sku,omitempty"`
	Image string `json:"image"`
	// Size is the virtual size when known (0 if not yet read).
	Size int64 `json:"size"`
	// SizeError says why the size could not be read ("" when it was, or
	// while it is still being read).
	SizeError string `json:"size_error,omitempty"`
}

// Label names the disk as lists show it: a page blob by its name, a
// managed disk by its slot and name ("OS disk web01-os").
func (d DiskInfo) Label() string {
	switch {
	case d.Kind != "managed":
		return d.Blob
	case d.Name != "":
		return d.Slot + " " + d.Name
	}
	return d.Slot + " (name not read yet)"
}

// Short is the Azure disk's own name (a managed disk's, or the blob's
// without its container), as job views name it.
func (d DiskInfo) Short() string {
	if d.Kind == "managed" {
		return d.Name
	}
	if i := strings.IndexByte(d.Blob, '/'); i >= 0 {
		return d.Blob[i+1:]
	}
	return d.Blob
}

// SiteInfo names the two sides of a failback.
type SiteInfo struct {
	Source SiteSide   `json:"source"`
	Target []SiteSide `json:"targets"`
	// Stop says how Complete failover stops the Azure VMs and what that
	// costs ("power off: kept allocated, ...").
	Stop string `json:"stop"`
}

// SiteSide is one site.
type SiteSide struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"` // "azure" or "hyper-v"
	Detail string   `json:"detail"`
	Hosts  []string `json:"hosts,omitempty"`
}

// LocationReport is the result of checking where VMs will land.
type LocationReport struct {
	Host   string     `json:"host"`
	Checks []CheckRow `json:"checks"`
	OK     bool       `json:"ok"`
	// MissingSwitches are switches of the VMs an alternate host lacks
	// (and no SwitchMap entry maps); HostSwitches are the switches it has,
	// to map them to.
	MissingSwitches []string `json:"missing_switches,omitempty"`
	HostSwitches    []string `json:"host_switches,omitempty"`
	// SavedVMs are the VMs found Saved or Paused (see
	// Choices.DiscardSavedState).
	SavedVMs []string `json:"saved_vms,omitempty"`
}

// CheckRow is one pre-flight or location check.
type CheckRow struct {
	VM     string `json:"vm,omitempty"`
	What   string `json:"what"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Fix says what to do when the check failed, in words any front end
	// can show (the console's choices, never a command's flags).
	Fix string `json:"fix,omitempty"`
	// CLIFix is the same fix for the script commands, naming failback
	// run's flags; "" when Fix names none of the operator's choices.
	CLIFix string `json:"cli_fix,omitempty"`
	// Warning marks a row that does not block (OK is true) but says what
	// the operator should do before and after the failback (Fix).
	Warning bool `json:"warning,omitempty"`
}

// ScriptFix is the fix as the script commands say it.
func (c CheckRow) ScriptFix() string {
	if c.CLIFix != "" {
		return c.CLIFix
	}
	return c.Fix
}

// PreflightReport lists every check of every VM.
type PreflightReport struct {
	Checks []CheckRow `json:"checks"`
	OK     bool       `json:"ok"`
}

// Estimate is what a job would move.
type Estimate struct {
	Disks []DiskEstimate `json:"disks"`
	// Recommended is the sync option the numbers favour, and why.
	Recommended SyncOption `json:"recommended"`
	Why         string     `json:"why"`
	// Downtime estimates, per option.
	DeltaDowntime time.Duration `json:"delta_downtime"`
	FullDowntime  time.Duration `json:"full_downtime"`
	// DeltaBytes and FullBytes are the bytes each option would move
	// (delta: the changed estimate; full: every allocated byte).
	DeltaBytes int64 `json:"delta_bytes"`
	FullBytes  int64 `json:"full_bytes"`
}

// DiskEstimate is one disk's figures.
type DiskEstimate struct {
	VM   string `json:"vm"`
	Blob string `json:"blob"`
	Size int64  `json:"size"`
	// Allocated bytes in Azure (what must be read or checked at most).
	Allocated int64 `json:"allocated"`
	// ChangedEstimate is the estimate of bytes that differ from the
	// on-premises disk (from snapshot diffs when available).
	ChangedEstimate int64  `json:"changed_estimate"`
	Basis           string `json:"basis"` // how ChangedEstimate was found
	// Bound says ChangedEstimate is only an upper bound (every allocated
	// byte: no earlier snapshot to diff against), not a measure.
	Bound     bool `json:"bound"`
	Encrypted bool `json:"encrypted"`
}

// CertReport lists certificates for the chosen VMs.
type CertReport struct {
	// Needed lists the thumbprints the encrypted disks need.
	Needed []string   `json:"needed"`
	Certs  []CertInfo `json:"certs"`
	// Disks says, per encrypted disk ("vm/blob"), the thumbprint it needs.
	Disks map[string]string `json:"disks,omitempty"`
}

// CertInfo is one certificate in the store.
type CertInfo struct {
	File       string    `json:"file"`
	Subject    string    `json:"subject"`
	Thumbprint string    `json:"thumbprint"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	Expired    bool      `json:"expired"`
	HasKey     bool      `json:"has_key"`
	// Matches is true when it unlocks every encrypted disk of the choice.
	Matches bool   `json:"matches"`
	Problem string `json:"problem,omitempty"`
}

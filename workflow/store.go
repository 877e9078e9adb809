package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/osfile"
)

// recordVersion is the job.json format; a newer one is refused on load.
// Format 2 names each disk's Azure side by an azure.DiskRef ("azure");
// format 1 named page blobs by container and blob, which load moves into
// the reference.
const recordVersion = 2

// flow is what a job is doing or heading towards; with the per-VM and
// per-disk progress it says which steps are left after an interruption.
type flow string

const (
	flowStart    flow = "start"    // pre-flight passed: phase 1 and catch-up (delta), or the whole full download
	flowComplete flow = "complete" // Complete failover: phase 2 up to pending commit
	flowCommit   flow = "commit"
	flowReverse  flow = "reverse"
	flowCancel   flow = "cancel"
	flowUndo     flow = "undo"
)

// Pass kinds: one journal directory each.
const (
	passPhase1  = "phase1"   // delta sync from the first snapshot
	passCatchUp = "catch-up" // ranges since the previous snapshot, Azure VMs running
	passFinal   = "final"    // ranges since the last snapshot, Azure VMs off
	passFull    = "full"     // full download, Azure VMs off
	// passCompare compares every block again (delta) after the
	// on-premises VM changed its disks during the job (recheck.go).
	passCompare = "compare"
)

// jobRecord is a job's persistent state machine (job.json). It is written
// atomically after every transition, so a crash leaves the last one.
type jobRecord struct {
	Version int       `json:"version"`
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Choices Choices   `json:"choices"`
	Owner   Actor     `json:"owner"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	State   JobState  `json:"state"`
	Flow    flow      `json:"flow"`
	// Was is the state a failed or interrupted job was in.
	Was   JobState `json:"was,omitempty"`
	Error string   `json:"error,omitempty"`
	// Pass counts finished catch-up rounds; CatchUpDone ends them.
	Pass        int  `json:"pass"`
	CatchUpDone bool `json:"catch_up_done,omitempty"`
	// ReverseOnce stops reverse replication after one cycle.
	ReverseOnce bool `json:"reverse_once,omitempty"`
	// RemoveCreated makes Undo remove the VMs the job created.
	RemoveCreated bool      `json:"remove_created,omitempty"`
	ReverseCycles int       `json:"reverse_cycles,omitempty"`
	LastReverse   time.Time `json:"last_reverse,omitzero"`
	// LastCycleTook is how long the last reverse cycle ran.
	LastCycleTook time.Duration `json:"last_cycle_took,omitempty"`
	// ReadySince is when the job last became ready to complete;
	// DowntimeStart is when Complete failover (or a full download) began
	// shutting the Azure VMs down, DowntimeEnd when the last group ran on
	// premises (figures.go).
	ReadySince    time.Time `json:"ready_since,omitzero"`
	DowntimeStart time.Time `json:"downtime_start,omitzero"`
	DowntimeEnd   time.Time `json:"downtime_end,omitzero"`
	// Downtime is where phase 2's time went (downtime.go).
	Downtime *downtimeRecord `json:"downtime,omitempty"`
	VMs      []vmRecord      `json:"vms"`
	// Test is a test failback's state (testfailback.go); nil for a real one.
	Test *testRecord `json:"test,omitempty"`
}

// vmRecord is one VM of a job: where it lands and which power changes
// this job made (so Cancel and Undo reverse exactly those).
type vmRecord struct {
	Name    string `json:"name"`
	AzureVM string `json:"azure_vm"`
	// AzureRG is the Azure VM's resource group ("" for [azure]'s).
	AzureRG string `json:"azure_resource_group,omitempty"`
	Group   int    `json:"group"`
	// Host is the config name of the target host.
	Host string `json:"host"`
	// Mover says the host's mover writes the disks (data_path = "mover"
	// when the job started; an older record writes through the share).
	Mover      bool   `json:"mover,omitempty"`
	Switch     string `json:"switch"`
	Generation int    `json:"generation"`
	CPUs       int    `json:"cpus"`
	Memory     int64  `json:"memory"`
	// CreateVM: create the VM at the target when it does not exist.
	CreateVM  bool `json:"create_vm,omitempty"`
	CreatedVM bool `json:"created_vm,omitempty"`
	// RemovedVM: Undo removed the VM it had created.
	RemovedVM bool `json:"removed_vm,omitempty"`
	// Spec is the VM to create: the original's shape at the target (an
	// older record has none and creates from Generation, CPUs, Memory and
	// Switch).
	Spec *hyperv.VMSpec `json:"spec,omitempty"`
	// DiscardState: the VM was Saved or Paused at pre-flight and the
	// operator chose to discard its memory state when the job starts;
	// StateDiscarded once that is done.
	DiscardState   bool `json:"discard_state,omitempty"`
	StateDiscarded bool `json:"state_discarded,omitempty"`
	// OnPremChanged says when the job found the on-premises VM not off,
	// its disk in use or a checkpoint taken: its disks may have changed,
	// so a compare pass (round Compares) runs before the next pass.
	OnPremChanged string `json:"onprem_changed,omitempty"`
	Compares      int    `json:"compares,omitempty"`
	// ShutByJob is set before this job asks Azure to power the VM off
	// (never when it was already off); AzureOff once it is off.
	ShutByJob      bool `json:"shut_by_job,omitempty"`
	AzureOff       bool `json:"azure_off,omitempty"`
	AzureRestarted bool `json:"azure_restarted,omitempty"`
	AzureDeleted   bool `json:"azure_deleted,omitempty"`
	// Points are the VM's recovery points, oldest first.
	Points []recoveryPoint `json:"recovery_points,omitempty"`
	// RefPoint is the Hyper-V reference point the last recorded reverse
	// cycle ended with: the next cycle asks for what the guest wrote
	// since its change tracking ids.
	RefPoint hyperv.RefPoint `json:"reference_point,omitzero"`
	// NICs are the Azure VM's network interfaces (with their public IPs)
	// as the pre-flight found them: Commit deletes them with the VM.
	NICs []azure.NICRef `json:"nics,omitempty"`
	// StartedOnPrem is set before this job starts the on-premises VM.
	StartedOnPrem bool         `json:"started_onprem,omitempty"`
	StoppedOnPrem bool         `json:"stopped_onprem,omitempty"`
	Disks         []diskRecord `json:"disks"`
	// Test is the VM's test VM in a test failback.
	Test *testVMRecord `json:"test,omitempty"`
}

// diskRecord is one disk of a job and the passes synced onto it.
type diskRecord struct {
	// Azure is the Azure disk synchronised from.
	Azure azure.DiskRef `json:"azure"`
	// Container and Blob are format 1's names of a page-blob disk; load
	// moves them into Azure.
	Container string `json:"container,omitempty"`
	Blob      string `json:"blob,omitempty"`
	// Image is the target as the host names it, Local as this machine
	// writes it.
	Image      string       `json:"image"`
	Local      string       `json:"local"`
	Size       int64        `json:"size"`
	Encrypted  bool         `json:"encrypted,omitempty"`
	Passes     []passRecord `json:"passes,omitempty"`
	Sums       bool         `json:"sums,omitempty"`     // the sums file is complete
	Verified   bool         `json:"verified,omitempty"` // the final verification passed
	RolledBack bool         `json:"rolled_back,omitempty"`
	// Replica is the page blob reverse replication writes for a disk that
	// was a managed disk (zero for a page blob: it is written itself).
	Replica azure.DiskRef `json:"replica,omitzero"`
	// SentBytes is what the last reverse cycle sent; Cycles what the
	// newest cycles sent, oldest first (reverseview.go).
	SentBytes int64         `json:"sent_bytes,omitempty"`
	Cycles    []cycleRecord `json:"cycles,omitempty"`
	// ReadBytes is what the last reverse cycle read on premises, and
	// Changes how it found what to send: from change tracking, or by
	// checksumming the disk (with the reason).
	ReadBytes int64  `json:"read_bytes,omitempty"`
	Changes   string `json:"changes,omitempty"`
	// Agent sums what every finished read through the Azure-side agent
	// moved (a run cut short by a crash is not counted).
	Agent *AgentView `json:"agent,omitempty"`
	// Test is the test disk a test failback writes instead of Image.
	Test *testDiskRecord `json:"test,omitempty"`
}

// recoveryPoint is one reverse replication cycle's snapshots of every
// disk of a VM, taken together.
type recoveryPoint struct {
	At    time.Time `json:"at"`
	Cycle int       `json:"cycle"`
	// Sent is what the cycle sent for the VM's disks.
	Sent int64 `json:"sent"`
	// Snapshots are the disks' snapshot ids, in disk order.
	Snapshots []string `json:"snapshots"`
	// Consistency is what the point's disks are consistent with
	// (hyperv.Consistency: application-consistent, crash-consistent,
	// vm-off, live).
	Consistency string `json:"consistency,omitempty"`
}

// passRecord is one engine sync onto a disk, with its own journal.
type passRecord struct {
	N     int         `json:"n"`
	Kind  string      `json:"kind"`
	Round int         `json:"round,omitempty"` // catch-up round, from 1
	Mode  engine.Mode `json:"mode"`
	// Snapshot is the source; Base the snapshot the ranges start from.
	Snapshot string `json:"snapshot"`
	Base     string `json:"base,omitempty"`
	Ranges   int64  `json:"ranges_bytes,omitempty"`
	Done     bool   `json:"done,omitempty"`
	Aborted  bool   `json:"aborted,omitempty"`
	// Fallback says why a ranges pass compared the whole disk by
	// checksums instead (its Mode is then Delta).
	Fallback string `json:"fallback,omitempty"`
	// SnapshotGone says the pass's snapshot was deleted (a later pass
	// replaced it, or the job ended).
	SnapshotGone bool         `json:"snapshot_gone,omitempty"`
	Stats        engine.Stats `json:"stats"`
	// Runs counts how often the engine ran it (more than one: resumed).
	Runs int `json:"runs,omitempty"`
	// Taken is when its snapshot was taken, Ended when it finished: the
	// live downtime estimate measures the rate of change and the pass's
	// fixed cost from them (figures.go).
	Taken time.Time `json:"taken,omitzero"`
	Ended time.Time `json:"ended,omitzero"`
}

// upgradeRecord brings a record of an older format to this one in memory
// (it is saved in the new format at its next change).
func upgradeRecord(r *jobRecord) {
	for v := range r.VMs {
		for k := range r.VMs[v].Disks {
			d := &r.VMs[v].Disks[k]
			if d.Azure.Kind == "" && d.Blob != "" {
				d.Azure = azure.PageBlobRef(d.Container, d.Blob)
			}
			d.Container, d.Blob = "", ""
		}
	}
	r.Version = recordVersion
}

// azureVM is the VM's Azure reference.
func (v *vmRecord) azureVM() azure.VMRef {
	return azure.VMRef{ResourceGroup: v.AzureRG, Name: v.AzureVM}
}

// name is the disk's Azure name for log lines, next to its VM's name.
func (d *diskRecord) name() string { return d.Azure.Short() }

// lastDone returns the newest finished pass, or nil.
func (d *diskRecord) lastDone() *passRecord {
	for i := len(d.Passes) - 1; i >= 0; i-- {
		if d.Passes[i].Done {
			return &d.Passes[i]
		}
	}
	return nil
}

// paths of the state folder.
type paths struct{ root string }

func (p paths) jobsDir() string         { return filepath.Join(p.root, "jobs") }
func (p paths) job(id string) string    { return filepath.Join(p.root, "jobs", id) }
func (p paths) record(id string) string { return filepath.Join(p.job(id), "job.json") }
func (p paths) audit(id string) string  { return filepath.Join(p.job(id), "audit.log") }
func (p paths) lock() string            { return filepath.Join(p.root, "lock") }
func (p paths) control() string         { return filepath.Join(p.root, "control.json") }
func (p paths) throughput() string      { return filepath.Join(p.root, "throughput.json") }
func (p paths) disk(id, vm string, n int) string {
	return filepath.Join(p.job(id), "disks", vm, strconv.Itoa(n))
}
func (p paths) pass(id, vm string, n, k int) string {
	return filepath.Join(p.disk(id, vm, n), "pass-"+strconv.Itoa(k))
}
func (p paths) ranges(id, vm string, n, k int) string {
	return p.pass(id, vm, n, k) + ".ranges.json"
}

// writeJSONAtomic writes v to path with osfile.WriteJSON (a crash leaves
// the old file or the new), creating the folder first: callers name files
// in folders that may not exist yet (a new job's, a disk's).
func writeJSONAtomic(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), osfile.PrivateDir); err != nil {
		return err
	}
	return osfile.WriteJSON(path, v)
}

// saveRecord writes job.json.
func (p paths) saveRecord(r *jobRecord) error {
	if err := writeJSONAtomic(p.record(r.ID), r); err != nil {
		return fmt.Errorf("save job %s in %s: %w (check the state folder's free space and permissions)", r.ID, p.job(r.ID), err)
	}
	return nil
}

// loadRecords reads every job.json, oldest first. A damaged record is
// reported, not fatal: the other jobs still load.
func (p paths) loadRecords() ([]*jobRecord, []error) {
	ents, err := os.ReadDir(p.jobsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("read %s: %w", p.jobsDir(), err)}
	}
	var recs []*jobRecord
	var errs []error
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(p.record(e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // a job whose first save never happened
		}
		var r jobRecord
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err == nil && r.Version > recordVersion {
			err = fmt.Errorf("written by a newer failback (format %d): use that version", r.Version)
		}
		if err == nil {
			upgradeRecord(&r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s (%s): %w", e.Name(), p.record(e.Name()), err))
			continue
		}
		recs = append(recs, &r)
	}
	sort.Slice(recs, func(i, k int) bool { return recs[i].Created.Before(recs[k].Created) })
	return recs, errs
}

// saveRanges and loadRanges keep a ranges pass's extents: a resumed pass
// must give the engine the very same list.
func saveRanges(path string, r []engine.Extent) error {
	if r == nil {
		r = []engine.Extent{}
	}
	return writeJSONAtomic(path, r)
}

func loadRanges(path string) ([]engine.Extent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r []engine.Extent
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", path, err)
	}
	return r, nil
}

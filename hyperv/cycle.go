package hyperv

import (
	"context"
	"fmt"
	"strings"
)

// Cycler is what a host offers reverse replication: a frozen view of a
// running VM's disks for one cycle, and what changed on them since the
// last cycle. PSHost and LabHost implement it; the workflow reads a host
// without it live and says so.
//
// A cycle is a recovery checkpoint (the checkpoint backup software takes:
// application-consistent through the guest's VSS writers, or
// crash-consistent when the operator allows it): from then on the VM
// writes to a child of each disk, and the disk file itself (the
// checkpoint's parent) does not change while the cycle reads it. Ending
// the cycle turns the checkpoint into a reference point, which merges the
// child back and keeps, per disk, a Resilient Change Tracking (RCT) id:
// the next cycle asks for the ranges written since that id instead of
// hashing the whole disk.
type Cycler interface {
	// BeginCycle freezes VM name's disks (a VM that is off gets its
	// checkpoint too: it may be started while the cycle reads). A
	// checkpoint of an earlier cycle of the same Tag that was never ended
	// (the process died) is removed first. With the RCT ids the last
	// recorded cycle ended with (CycleOptions.Since), each disk's Changed
	// holds the ranges written since, or ChangesKnown is false with the
	// reason in Why.
	BeginCycle(ctx context.Context, name string, o CycleOptions) (Cycle, error)
	// EndCycle removes the cycle's checkpoint (Hyper-V merges the child
	// into the disk). With Keep it first becomes a reference point, whose
	// id and RCT ids are returned; the reference points in Drop (earlier
	// cycles') are removed then. Reference points nobody named are never
	// touched: backup software keeps its own on the same VM.
	EndCycle(ctx context.Context, name string, c Cycle, e CycleEnd) (RefPoint, error)
}

// CycleOptions say how to freeze a VM.
type CycleOptions struct {
	// Tag names the checkpoint ("failback <job>"), so a cycle's own
	// leftovers are found and no one else's are touched.
	Tag string
	// CrashConsistent allows a crash-consistent checkpoint when the guest
	// cannot give an application-consistent one (no VSS integration
	// service, a writer failing); without it the cycle is refused.
	CrashConsistent bool
	// Since are the RCT ids of the last recorded cycle (one per disk;
	// the host finds each disk's own).
	Since []string
}

// Consistency is what a cycle's frozen disks are consistent with.
type Consistency string

const (
	// AppConsistent: the guest's VSS writers flushed before the freeze.
	AppConsistent Consistency = "application-consistent"
	// CrashConsistent: as if the power had been cut at the freeze.
	CrashConsistent Consistency = "crash-consistent"
	// VMOff: the VM was off; its disks do not change.
	VMOff Consistency = "vm-off"
	// Live: the host cannot freeze the VM; its disks were read while it
	// ran (a host without Cycler).
	Live Consistency = "live"
)

// Cycle is one frozen view of a VM's disks.
type Cycle struct {
	// Checkpoint is the recovery checkpoint's id.
	Checkpoint  string      `json:"checkpoint"`
	Consistency Consistency `json:"consistency"`
	Disks       []CycleDisk `json:"disks"`
	// Removed names leftover checkpoints of earlier cycles removed first.
	Removed []string `json:"removed,omitempty"`
}

// CycleDisk is one disk of a cycle.
type CycleDisk struct {
	// Path is the disk file as the VM's configuration names it (what
	// failback wrote); ReadPath is the frozen file to read, which is Path
	// unless the VM has checkpoints of its own (then Read is refused).
	Path     string `json:"path"`
	ReadPath string `json:"read_path"`
	// ChangesKnown says Changed holds every range written since the
	// disk's CycleOptions.Since id; otherwise Why says why not (no id
	// yet, the chain broken, change tracking not enabled).
	ChangesKnown bool     `json:"changes_known"`
	Changed      []Extent `json:"changed,omitempty"`
	Why          string   `json:"why,omitempty"`
}

// Extent is a byte range of a disk.
type Extent struct {
	Off int64 `json:"off"`
	Len int64 `json:"len"`
}

// CycleEnd says how a cycle ends.
type CycleEnd struct {
	// Keep turns the checkpoint into a reference point (the cycle was
	// sent whole); without it the checkpoint is only removed.
	Keep bool
	// Drop are reference points of earlier cycles to remove once the new
	// one exists.
	Drop []string
}

// RefPoint is a reference point a cycle ended with: its id and the RCT
// ids of its disks.
type RefPoint struct {
	ID  string   `json:"id"`
	RCT []string `json:"rct"`
}

// CheckFrozen refuses a cycle whose frozen disk is not the file failback
// wrote: the VM runs on checkpoints of its own, so the configured file
// misses what the guest wrote since the oldest of them.
func (d CycleDisk) CheckFrozen(vm string) error {
	if d.ReadPath == "" || strings.EqualFold(d.ReadPath, d.Path) {
		return nil
	}
	return fmt.Errorf("VM %s runs on checkpoints of its own (the disk %s is frozen as %s): "+
		"reverse replication reads the disk failback wrote; remove them first (Get-VMCheckpoint -VMName %s | Remove-VMCheckpoint merges them)",
		vm, d.Path, d.ReadPath, psQuote(vm))
}

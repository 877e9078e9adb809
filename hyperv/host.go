// Package hyperv is the on-premises side of a failback: it controls Hyper-V
// hosts (through PowerShell's Hyper-V module, locally on Windows or over
// SSH), maps the paths a host knows to the paths the engine writes through,
// checks an alternate location before anything is written, and provides a
// lab host (a folder that behaves like a Hyper-V host) for drills and tests.
//
// Everything the failback workflow needs from a host is the Host interface;
// PSHost and LabHost implement it and pass the same behaviour suite
// (hyperv/hosttest). The package never imports the UI, the engine or Azure.
package hyperv

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Host is a Hyper-V host as the failback workflow sees it. Every method can
// block (PowerShell over SSH takes seconds), so every method takes a context.
// Disk paths are the paths the host knows (D:\VMs\web01.vhdx); PathMap turns
// them into paths the engine can write through.
type Host interface {
	// Name is a short name for logs and messages ("hv01.example.com").
	Name() string
	// Describe says what kind of host this is and how it is reached.
	Describe() string
	// GetVM returns the VM with this name, or an error wrapping ErrVMNotFound.
	GetVM(ctx context.Context, name string) (VM, error)
	// ListSwitches returns the host's virtual switches.
	ListSwitches(ctx context.Context) ([]Switch, error)
	// CreateVM creates a VM as the spec says, creating the disks whose
	// Existing is false (never overwriting a file) and attaching the others.
	// On failure it removes what it created.
	CreateVM(ctx context.Context, spec VMSpec) (VM, error)
	// AttachDisk attaches an existing disk file to a VM.
	AttachDisk(ctx context.Context, vmName string, d DiskSpec) error
	// StartVM starts a VM; it fails when a disk is missing or unreadable.
	StartVM(ctx context.Context, name string) error
	// ShutdownVM asks the guest to shut down and turns the VM off when it
	// has not stopped within timeout. forced says whether it was turned off.
	// A Saved (or Paused) VM has no running guest to ask: it ends Off and
	// its saved memory state is discarded, never resumed. That is what a
	// failback wants: the VM boots cold from the disks it synchronised,
	// not from memory that predates them.
	ShutdownVM(ctx context.Context, name string, timeout time.Duration) (forced bool, err error)
	// DiskInUse says whether a disk file is attached to a VM that is not
	// off, or otherwise locked; the engine must not write a disk in use.
	DiskInUse(ctx context.Context, path string) (DiskUse, error)
	// FreeSpace reports the free space of the volume holding folder (which
	// need not exist yet).
	FreeSpace(ctx context.Context, folder string) (Space, error)
	// DiscardSavedState turns a Saved or Paused VM Off, discarding its
	// memory state (Remove-VMSavedState; a Paused VM is turned off): it
	// would otherwise resume memory older than the disks a failback
	// writes. A VM that is Off is left as it is; any other state is
	// refused with ErrBadState.
	DiscardSavedState(ctx context.Context, name string) error
	// Info says what the host is: its computer name, its failover cluster
	// (nodes and shared volumes) when it is a node of one, and whether the
	// Azure Site Recovery Provider is installed.
	Info(ctx context.Context) (HostInfo, error)
}

// VMState is a VM's power state, named as Hyper-V names it.
type VMState string

// The states failback cares about; Hyper-V has more (see stateNames).
const (
	StateOff      VMState = "Off"
	StateRunning  VMState = "Running"
	StateStarting VMState = "Starting"
	StateStopping VMState = "Stopping"
	StateSaved    VMState = "Saved"
	StatePaused   VMState = "Paused"
	StateOther    VMState = "Other"
)

// ControllerType is the kind of controller a disk hangs on.
type ControllerType string

// Controller types (Hyper-V's ControllerType enum: IDE=0, SCSI=1).
const (
	IDE  ControllerType = "IDE"
	SCSI ControllerType = "SCSI"
)

// SwitchType is a virtual switch's kind (Hyper-V's VMSwitchType enum).
type SwitchType string

// Switch types (Private=0, Internal=1, External=2).
const (
	SwitchPrivate  SwitchType = "Private"
	SwitchInternal SwitchType = "Internal"
	SwitchExternal SwitchType = "External"
)

// VM is a virtual machine on a host.
type VM struct {
	Name       string  `json:"name"`
	ID         string  `json:"id,omitempty"`
	State      VMState `json:"state"`
	Generation int     `json:"generation"`
	CPUCount   int     `json:"cpu_count"`
	// MemoryBytes is the startup memory.
	MemoryBytes   int64 `json:"memory_bytes"`
	DynamicMemory bool  `json:"dynamic_memory,omitempty"`
	// MemoryMinimum and MemoryMaximum bound dynamic memory.
	MemoryMinimum int64     `json:"memory_minimum,omitempty"`
	MemoryMaximum int64     `json:"memory_maximum,omitempty"`
	Path          string    `json:"path,omitempty"`
	Created       time.Time `json:"created,omitempty"`
	Disks         []Disk    `json:"disks"`
	Adapters      []Adapter `json:"adapters"`
	// DVDDrives are the slots of the VM's DVD drives.
	DVDDrives []Controller `json:"dvd_drives,omitempty"`
	// SecureBoot is On or Off (generation 2; "" when not known), with the
	// Secure Boot template's name.
	SecureBoot         string `json:"secure_boot,omitempty"`
	SecureBootTemplate string `json:"secure_boot_template,omitempty"`
	// Checkpoints are the VM's checkpoints (none is the only state a
	// failback may write the disks in).
	Checkpoints []Checkpoint `json:"checkpoints,omitempty"`
	// Replication is the VM's Hyper-V Replica relationship, nil for none.
	Replication *Replication `json:"replication,omitempty"`
	// Clustered says the VM is a failover cluster role; Node is the
	// computer it is on.
	Clustered bool   `json:"clustered,omitempty"`
	Node      string `json:"node,omitempty"`
}

// Disk is a virtual hard disk attached to a VM.
type Disk struct {
	// HostPath is the file as the host knows it (D:\VMs\web01.vhdx).
	HostPath string `json:"host_path"`
	Controller
	// VirtualSize and FileSize are 0 when the host could not read the file
	// (Problem then says why).
	VirtualSize int64  `json:"virtual_size"`
	FileSize    int64  `json:"file_size"`
	Format      string `json:"format,omitempty"` // "VHDX", "VHD"
	Fixed       bool   `json:"fixed,omitempty"`
	Problem     string `json:"problem,omitempty"`
	// ParentPath is a differencing disk's parent (a checkpoint's .avhdx
	// names the disk it was taken of).
	ParentPath string `json:"parent_path,omitempty"`
}

// Controller is where a disk is attached.
type Controller struct {
	Type     ControllerType `json:"controller_type"`
	Number   int            `json:"controller_number"`
	Location int            `json:"controller_location"`
}

// Adapter is a network adapter and the switch it is connected to.
type Adapter struct {
	Name       string `json:"name"`
	SwitchName string `json:"switch_name"`
	MAC        string `json:"mac,omitempty"`
	// StaticMAC says the MAC was set by hand, not assigned by Hyper-V.
	StaticMAC bool `json:"static_mac,omitempty"`
	VLAN      VLAN `json:"vlan,omitzero"`
}

// Switch is a virtual switch.
type Switch struct {
	Name string     `json:"name"`
	Type SwitchType `json:"type"`
	// NetAdapter is the physical adapter of an external switch.
	NetAdapter string `json:"net_adapter,omitempty"`
}

// VMSpec says what VM to create: the original's shape at a new place.
type VMSpec struct {
	Name          string `json:"name"`
	Generation    int    `json:"generation"`
	CPUCount      int    `json:"cpu_count"`
	MemoryBytes   int64  `json:"memory_bytes"`
	DynamicMemory bool   `json:"dynamic_memory,omitempty"`
	// MemoryMinimum and MemoryMaximum bound dynamic memory (0: Hyper-V's
	// defaults).
	MemoryMinimum int64 `json:"memory_minimum,omitempty"`
	MemoryMaximum int64 `json:"memory_maximum,omitempty"`
	// SwitchName is the switch of the single network adapter when
	// Adapters is empty.
	SwitchName string `json:"switch_name,omitempty"`
	// Adapters are the VM's network adapters, in order.
	Adapters []AdapterSpec `json:"adapters,omitempty"`
	// DVDDrives are the slots of the VM's DVD drives; nil keeps what
	// New-VM makes (generation 1: one at IDE 1:0, which no disk may take).
	DVDDrives []Controller `json:"dvd_drives,omitempty"`
	// SecureBoot is On, Off or "" (Hyper-V's default), generation 2 only;
	// SecureBootTemplate names the template ("" keeps the default).
	SecureBoot         string `json:"secure_boot,omitempty"`
	SecureBootTemplate string `json:"secure_boot_template,omitempty"`
	// HighlyAvailable makes the VM a failover cluster role
	// (Add-ClusterVirtualMachineRole) once it is created.
	HighlyAvailable bool `json:"highly_available,omitempty"`
	// Folder is where the host keeps the VM's configuration ("" = host default).
	Folder string     `json:"folder,omitempty"`
	Disks  []DiskSpec `json:"disks"`
}

// DiskSpec is one disk of a VMSpec, or a disk to attach.
type DiskSpec struct {
	HostPath string `json:"host_path"`
	Controller
	// VirtualSize is the size in bytes the guest sees (the source's size).
	VirtualSize int64 `json:"virtual_size"`
	// Fixed preallocates the file; dynamic disks grow as data is written.
	Fixed bool `json:"fixed,omitempty"`
	// AllocatedBytes, when known (from the source's allocated ranges), is
	// how much a dynamic disk will take once synchronised.
	AllocatedBytes int64 `json:"allocated_bytes,omitempty"`
	// Existing attaches the file that is already there instead of creating it.
	Existing bool `json:"existing,omitempty"`
}

// DiskUse says whether, and why, a disk file is in use.
type DiskUse struct {
	InUse bool `json:"in_use"`
	// VMs names the VMs that are not off and have the disk attached.
	VMs []string `json:"vms,omitempty"`
	// Locked is true when the file is open elsewhere (another process,
	// a mounted image, a sync in progress).
	Locked bool   `json:"locked,omitempty"`
	Reason string `json:"reason,omitempty"`
	Exists bool   `json:"exists"`
}

// Space is the room on the volume holding a folder.
type Space struct {
	// Volume identifies the volume (a drive root or volume id) so that
	// callers can add up disks that land on the same volume.
	Volume string `json:"volume"`
	Free   int64  `json:"free"`
	Total  int64  `json:"total"`
}

// Validate reports what is wrong with a spec before any host is asked.
func (s VMSpec) Validate() error {
	var p []string
	if strings.TrimSpace(s.Name) == "" {
		p = append(p, "the VM name is empty")
	}
	if s.Generation != 1 && s.Generation != 2 {
		p = append(p, "generation must be 1 or 2")
	}
	if s.CPUCount < 1 {
		p = append(p, "CPU count must be at least 1")
	}
	if s.MemoryBytes < 32<<20 || s.MemoryBytes%(2<<20) != 0 {
		p = append(p, "memory must be at least 32 MiB and a multiple of 2 MiB (Hyper-V's rule)")
	}
	p = append(p, s.validateShape()...)
	seen := map[string]bool{}
	for i, d := range s.Disks {
		if err := d.validate(s.Generation); err != nil {
			p = append(p, "disk "+strconv.Itoa(i)+": "+err.Error())
		}
		k := string(d.Type) + "/" + strconv.Itoa(d.Number) + "/" + strconv.Itoa(d.Location)
		if seen[k] {
			p = append(p, "disk "+strconv.Itoa(i)+": controller slot "+k+" used twice")
		}
		seen[k] = true
	}
	if len(p) > 0 {
		return &specError{problems: p}
	}
	return nil
}

func (d DiskSpec) validate(generation int) error {
	switch {
	case strings.TrimSpace(d.HostPath) == "":
		return errText("the disk path is empty")
	case !d.Existing && d.VirtualSize <= 0:
		return errText("a disk to create needs its virtual size")
	case d.Type != IDE && d.Type != SCSI:
		return errText("controller type must be IDE or SCSI")
	case d.Type == IDE && generation == 2:
		return errText("generation 2 VMs have no IDE controller: use SCSI")
	case d.Type == IDE && (d.Number > 1 || d.Location > 1):
		return errText("IDE controller number and location are 0 or 1")
	case d.Number < 0 || d.Location < 0 || d.Number > 3 || d.Location > 63:
		return errText("SCSI controller number is 0-3 and location 0-63")
	case generation == 2 && !strings.EqualFold(extOf(d.HostPath), ".vhdx"):
		return errText("generation 2 VMs boot only from VHDX files")
	}
	return nil
}

type errText string

func (e errText) Error() string { return string(e) }

type specError struct{ problems []string }

func (e *specError) Error() string {
	return "the VM spec is not valid: " + strings.Join(e.problems, "; ")
}

func extOf(p string) string {
	i := strings.LastIndexAny(p, `.\/`)
	if i < 0 || p[i] != '.' {
		return ""
	}
	return p[i:]
}

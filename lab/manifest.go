package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// ManifestFile is the lab's record of itself, in the lab folder: what it
// started (process ids, so lab down stops exactly those) and what it built.
const ManifestFile = "lab.json"

// manifestVersion changes when lab.json changes shape; an older lab is
// replaced rather than misread. Version 2: managed disks behind the lab's
// ARM endpoint, served with the blob front by the lab's Azure process.
const manifestVersion = 2

// Manifest is lab.json.
type Manifest struct {
	Version int `json:"version"`
	// Dir is the lab folder, absolute.
	Dir     string    `json:"dir"`
	Created time.Time `json:"created"`
	// Ready is set once lab up finished; a lab that is not ready was
	// interrupted while it was built and is replaced by the next lab up.
	Ready    bool   `json:"ready"`
	Seed     uint64 `json:"seed"`
	DiskSize int64  `json:"disk_size"`
	// Azurite is the storage account's server (Port: its own port).
	Azurite Proc `json:"azurite"`
	// Azure is the lab's Azure ('failback lab vms --dir DIR'): one process
	// serving the blob front and the ARM endpoint and running every Azure
	// VM's writer. Its ports are chosen by lab up before it starts, so a
	// restarted process serves where config.toml points.
	Azure Proc `json:"azure"`
	// FrontPort is the blob front's loopback port (azurite.Front: Azurite
	// behind it, snapshot diffs answered as Azure does); ARMPort the ARM
	// endpoint's (internal/labarm).
	FrontPort int `json:"front_port"`
	ARMPort   int `json:"arm_port"`
	// SubscriptionID and ResourceGroup are where the Azure VMs are.
	SubscriptionID string `json:"subscription_id"`
	ResourceGroup  string `json:"resource_group"`
	// Container holds the unmanaged disks' page blobs; ManagedContainer
	// the blobs behind the managed disks (Azure hides those; the lab
	// keeps them in its storage account).
	Container        string `json:"container"`
	ManagedContainer string `json:"managed_container"`
	// ARMDir holds the ARM endpoint's resources, ComputeDir the Azure VMs'
	// power states and writers' files (both relative to Dir).
	ARMDir     string         `json:"arm_dir"`
	ComputeDir string         `json:"compute_dir"`
	Writes     WriterSettings `json:"writes"`
	VMs        []VM           `json:"vms"`
	Hosts      []Host         `json:"hosts"`
	Certs      []Cert         `json:"certificates"`
	// Config is the lab's config.toml (relative to Dir).
	Config string `json:"config"`
}

// Proc is a background process the lab started.
type Proc struct {
	PID  int `json:"pid"`
	Port int `json:"port,omitempty"`
	// Log is its output file (relative to the lab folder).
	Log     string    `json:"log"`
	Started time.Time `json:"started"`
}

// WriterSettings say how hard the Azure VMs write while they run.
type WriterSettings struct {
	WritesPerSecond float64 `json:"writes_per_second"`
	MinWrite        int64   `json:"min_write"`
	MaxWrite        int64   `json:"max_write"`
	// Trim is the share of writes that clear their range instead (a
	// guest's TRIM), so syncs see cleared ranges too.
	Trim float64 `json:"trim"`
}

// VM is one lab VM: an Azure VM now, a Hyper-V VM on hv01 before the
// failover.
type VM struct {
	Name string `json:"name"`
	// Host is the original Hyper-V host ("" in an older lab: hv01).
	Host       string `json:"host,omitempty"`
	Plan       string `json:"plan"`
	Group      int    `json:"group"`
	Generation int    `json:"generation"`
	CPUs       int    `json:"cpus"`
	Memory     int64  `json:"memory"`
	Encrypted  bool   `json:"encrypted,omitempty"`
	// Size is the Azure VM size.
	Size string `json:"size"`
	// NIC is the VM's network interface, PublicIP its public IP ("" for
	// none); each goes with the VM when its deleteOption is Delete, else
	// commit deletes it.
	NIC                  string `json:"nic"`
	NICDeleteOption      string `json:"nic_delete_option"`
	PublicIP             string `json:"public_ip,omitempty"`
	PublicIPDeleteOption string `json:"public_ip_delete_option,omitempty"`
	// Disks: the OS disk first.
	Disks []Disk `json:"disks"`
}

// Managed reports whether the VM runs on managed disks (else on page
// blobs).
func (v VM) Managed() bool { return len(v.Disks) > 0 && v.Disks[0].Managed != "" }

// Disk is one disk of a lab VM.
type Disk struct {
	// Managed is the managed disk's name in the VM's resource group; ""
	// for an unmanaged disk (a page blob).
	Managed string `json:"managed,omitempty"`
	// OS marks the OS disk; LUN is a data disk's.
	OS  bool `json:"os,omitempty"`
	LUN int  `json:"lun"`
	// SKU is a managed disk's storage type; DeleteOption ("Delete" or
	// "Detach") says whether it goes with its VM.
	SKU          string `json:"sku,omitempty"`
	DeleteOption string `json:"delete_option,omitempty"`
	// Blob is container/name of the page blob holding the disk's bytes in
	// the lab's storage account: the unmanaged disk itself, or the blob
	// behind a managed disk.
	Blob string `json:"blob"`
	// Image is the on-premises image on hv01 (absolute path).
	Image string `json:"image"`
	Size  int64  `json:"size"`
	// DataBytes is the data written at the failover; ChangedBytes what
	// changed on Azure after it (before the writers started).
	DataBytes    int64 `json:"data_bytes"`
	ChangedBytes int64 `json:"changed_bytes"`
}

// Describe names the disk as status shows it: "db01-data (LUN 0)",
// "vhds/app01-os.vhd (page blob)".
func (d Disk) Describe() string {
	switch {
	case d.Managed == "":
		return d.Blob + " (page blob)"
	case d.OS:
		return d.Managed + " (OS disk)"
	}
	return fmt.Sprintf("%s (LUN %d)", d.Managed, d.LUN)
}

// Host is one lab Hyper-V host.
type Host struct {
	Name string `json:"name"`
	// Role says what the host is for in the drill.
	Role     string   `json:"role"`
	Dir      string   `json:"dir"`
	Switches []string `json:"switches"`
}

// Cert is a certificate the lab put in its certificate folder.
type Cert struct {
	File       string `json:"file"`
	Thumbprint string `json:"thumbprint"`
	Subject    string `json:"subject"`
	// Unlocks says whether it unlocks the lab's encrypted VM.
	Unlocks bool `json:"unlocks"`
}

// Path returns rel inside the lab folder.
func (m *Manifest) Path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(m.Dir, rel)
}

// ErrNoLab means the folder holds no lab (no lab.json).
var ErrNoLab = errors.New("no lab here")

// ReadManifest reads dir's lab.json.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (no %s; run 'failback lab up --dir %s' to build one)", dir, ErrNoLab, ManifestFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Dir == "" {
		if err == nil {
			err = errors.New("no lab folder recorded")
		}
		return nil, fmt.Errorf("%s: %w (%v); 'failback lab down --dir %s' removes the lab, 'failback lab up --dir %s' rebuilds it", p, ErrDamaged, err, dir, dir)
	}
	return &m, nil
}

// ErrDamaged means lab.json cannot be read: lab down then stops the lab's
// processes it finds by their command lines and removes the folder.
var ErrDamaged = errors.New("the lab's record is damaged")

// write saves the manifest atomically (internal/osfile: temporary file,
// sync, rename, folder sync), so lab down never reads half of one.
func (m *Manifest) write() error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(m.Dir, ManifestFile)
	if err := osfile.WriteAtomic(p, append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// HostOf is the original host of v.
func (v VM) HostOf() string {
	if v.Host == "" {
		return HostOriginal
	}
	return v.Host
}

// originals are the lab's original hosts, those its VMs ran on.
func (m *Manifest) originals() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range m.VMs {
		if h := v.HostOf(); !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

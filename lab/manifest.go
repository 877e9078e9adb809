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
// replaced rather than misread.
const manifestVersion = 1

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
	// Azurite is the storage account's server; Writer the process running
	// every Azure VM's writer (failback lab vms).
	Azurite Proc `json:"azurite"`
	Writer  Proc `json:"writer"`
	// Container holds every disk blob.
	Container string `json:"container"`
	// ComputeDir holds the Azure VMs' state files (relative to Dir).
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
}

// VM is one lab VM: an Azure VM now, a Hyper-V VM on hv01 before the
// failover.
type VM struct {
	Name       string `json:"name"`
	Plan       string `json:"plan"`
	Group      int    `json:"group"`
	Generation int    `json:"generation"`
	CPUs       int    `json:"cpus"`
	Memory     int64  `json:"memory"`
	Encrypted  bool   `json:"encrypted,omitempty"`
	Disks      []Disk `json:"disks"`
}

// Disk is one disk of a lab VM.
type Disk struct {
	// Blob is container/name in the lab storage account.
	Blob string `json:"blob"`
	// Image is the on-premises image on hv01 (absolute path).
	Image string `json:"image"`
	Size  int64  `json:"size"`
	// DataBytes is the data written at the failover; ChangedBytes what
	// changed on Azure after it (before the writers started).
	DataBytes    int64 `json:"data_bytes"`
	ChangedBytes int64 `json:"changed_bytes"`
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

package labarm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// Resource kinds, as the state folder names them.
const (
	kindDisk = "disks"
	kindSnap = "snapshots"
	kindVM   = "virtualMachines"
	kindNIC  = "networkInterfaces"
	kindPIP  = "publicIPAddresses"
)

// diskRec is a managed disk.
type diskRec struct {
	Name      string            `json:"name"`
	RG        string            `json:"resource_group"`
	Location  string            `json:"location"`
	SKU       string            `json:"sku"`
	SizeBytes int64             `json:"size_bytes"`
	UniqueID  string            `json:"unique_id"`
	FamilyID  string            `json:"family_id"` // its snapshots' incrementalSnapshotFamilyId
	Created   time.Time         `json:"created"`
	OSType    string            `json:"os_type,omitempty"`
	ManagedBy string            `json:"managed_by,omitempty"` // the VM's id while attached
	AuthMode  string            `json:"data_access_auth_mode,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
	Container string            `json:"container"`
	Blob      string            `json:"blob"`
	// SnapshotTimes are when its recent incremental snapshots were made,
	// deleted ones included: Azure's rate limit counts creations.
	SnapshotTimes []time.Time `json:"snapshot_times,omitempty"`
}

// snapRec is an incremental snapshot: a blob snapshot of its disk's blob.
type snapRec struct {
	Name           string            `json:"name"`
	RG             string            `json:"resource_group"`
	Location       string            `json:"location"`
	SKU            string            `json:"sku"`
	UniqueID       string            `json:"unique_id"`
	FamilyID       string            `json:"family_id"`
	SourceID       string            `json:"source_id"`
	SourceUniqueID string            `json:"source_unique_id"`
	Created        time.Time         `json:"created"`
	SizeBytes      int64             `json:"size_bytes"`
	OSType         string            `json:"os_type,omitempty"`
	AuthMode       string            `json:"data_access_auth_mode,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Container      string            `json:"container"`
	Blob           string            `json:"blob"`
	BlobSnapshot   string            `json:"blob_snapshot"`
	// SASExpiry is when the last SAS granted ends; zero once revoked.
	SASExpiry time.Time `json:"sas_expiry,omitzero"`
}

// vmRec is a virtual machine; its power state is LabCompute's.
type vmRec struct {
	Name        string            `json:"name"`
	RG          string            `json:"resource_group"`
	Location    string            `json:"location"`
	Size        string            `json:"size"`
	VMID        string            `json:"vm_id"`
	Created     time.Time         `json:"created"`
	OSType      string            `json:"os_type"`
	Deleting    bool              `json:"deleting,omitempty"`
	OSDisk      vmDisk            `json:"os_disk"`
	DataDisks   []vmDisk          `json:"data_disks,omitempty"`
	NICs        []vmNIC           `json:"nics,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	ComputeName string            `json:"compute_name"` // its LabCompute name
}

// vmDisk is one disk of a VM's storage profile: a managed disk of the
// VM's group by name, or an unmanaged page blob.
type vmDisk struct {
	LUN          int32  `json:"lun"`
	Name         string `json:"name"`
	Managed      bool   `json:"managed"`
	Container    string `json:"container,omitempty"`
	Blob         string `json:"blob,omitempty"`
	SizeBytes    int64  `json:"size_bytes"`
	SKU          string `json:"sku,omitempty"`
	DeleteOption string `json:"delete_option"`
}

// vmNIC is a VM's reference to a network interface of its group.
type vmNIC struct {
	Name         string `json:"name"`
	Primary      bool   `json:"primary"`
	DeleteOption string `json:"delete_option"`
}

// nicRec is a network interface with one IP configuration.
type nicRec struct {
	Name      string `json:"name"`
	RG        string `json:"resource_group"`
	Location  string `json:"location"`
	MAC       string `json:"mac"`
	PrivateIP string `json:"private_ip"`
	VM        string `json:"vm,omitempty"`        // the VM's id while attached
	PublicIP  string `json:"public_ip,omitempty"` // the public IP's id
	// PublicIPDeleteOption says whether the public IP goes with the VM.
	PublicIPDeleteOption string `json:"public_ip_delete_option,omitempty"`
}

// pipRec is a public IP address.
type pipRec struct {
	Name     string `json:"name"`
	RG       string `json:"resource_group"`
	Location string `json:"location"`
	Address  string `json:"address"`
	IPConfig string `json:"ip_config,omitempty"` // the NIC IP configuration's id holding it
}

// store keeps one JSON file per resource: DIR/<kind>/<group>/<name>.json,
// group and name in lower case (ARM names ignore case).
type store struct {
	dir string
	mu  sync.Mutex
}

var (
	groupRE = regexp.MustCompile(`^[-\w.()]{1,90}$`)
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9][-\w.]{0,79}$`)
)

// checkNames refuses names ARM would refuse (and paths that leave the folder).
func checkNames(rg, name string) *apiError {
	if !groupRE.MatchString(rg) || strings.Trim(rg, ".") == "" {
		return errf(400, "InvalidResourceGroup", "Resource group name %q is invalid: use letters, digits, '-', '_', '.', '(' or ')' (at most 90).", rg)
	}
	if name != "" && (!nameRE.MatchString(name) || strings.HasSuffix(name, ".")) {
		return errf(400, "InvalidResourceName", "Resource name %q is invalid: use letters, digits, '-', '_' or '.' (at most 80), not ending in '.'.", name)
	}
	return nil
}

func (s *store) path(kind, rg, name string) string {
	return filepath.Join(s.dir, kind, strings.ToLower(rg), strings.ToLower(name)+".json")
}

// lock serialises changes: the process's mutex and the folder's lock
// file, so a builder in another process waits too.
func (s *store) lock() (func(), error) {
	s.mu.Lock()
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		err = osfile.Lock(f, true, true)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("lab ARM state lock: %w", err)
	}
	return func() { f.Close(); s.mu.Unlock() }, nil
}

// get reads one resource; nil when there is none.
func get[T any](s *store, kind, rg, name string) (*T, error) {
	b, err := os.ReadFile(s.path(kind, rg, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("lab ARM state file %s is damaged (%v); delete it and build the lab again", s.path(kind, rg, name), err)
	}
	return v, nil
}

// put writes one resource atomically.
func (s *store) put(kind, rg, name string, v any) error {
	p := s.path(kind, rg, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return osfile.WriteAtomic(p, append(b, '\n'))
}

// del removes one resource (gone already is fine).
func (s *store) del(kind, rg, name string) error {
	err := os.Remove(s.path(kind, rg, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// list reads a group's resources of one kind ("" rg: every group's),
// sorted by group and name.
func list[T any](s *store, kind, rg string) ([]*T, error) {
	pattern := filepath.Join(s.dir, kind, "*", "*.json")
	if rg != "" {
		pattern = filepath.Join(s.dir, kind, globEscape(strings.ToLower(rg)), "*.json")
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []*T
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Join(s.dir, kind), f)
		g, n := filepath.Split(rel)
		v, err := get[T](s, kind, filepath.Clean(g), strings.TrimSuffix(n, ".json"))
		if err != nil {
			return nil, err
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`[`, `\[`, `*`, `\*`, `?`, `\?`, `\`, `\\`)
	return r.Replace(s)
}

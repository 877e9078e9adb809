package hyperv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/failback/failback/internal/osfile"
	"github.com/failback/failback/vdisk"
)

// LabHost is a folder that behaves like a Hyper-V host, for drills and
// tests. Its layout:
//
//	host.json        LabConfig: the host's name, switches, optional free space
//	vms/<name>.json  one VM each (written atomically)
//	disks/           the default folder for disk images (any absolute path works)
//	.lock            flock'ed by every change, so several processes can share a lab
//
// Disks are real images (VHDX, VHD or raw, by extension) made through
// vdisk. Host paths are local paths: PathMap maps the lab folder to itself.
// A running VM's disks are protected by the disk lock protocol (see
// disklock.go): DiskInUse reports them and LockDiskForWrite refuses them.
type LabHost struct {
	dir string
}

// LabConfig is a lab host's host.json.
type LabConfig struct {
	Name     string   `json:"name"`
	Switches []Switch `json:"switches"`
	// FreeBytes, when above zero, is the free space the lab reports instead
	// of the file system's, to drill a volume that is too small.
	FreeBytes int64 `json:"free_bytes,omitempty"`
	// Cluster, Nodes and CSVs make the lab host a node of a failover
	// cluster of that name, for drills: Info reports them and CreateVM can
	// make a VM highly available. (Other nodes are not modelled.)
	Cluster string   `json:"cluster,omitempty"`
	Nodes   []string `json:"nodes,omitempty"`
	CSVs    []string `json:"csvs,omitempty"`
	// SiteRecovery, when set, is the Azure Site Recovery Provider Info
	// reports as installed.
	SiteRecovery string `json:"site_recovery,omitempty"`
	// Guests says, by VM name (lower case), how the guest of a VM made
	// later behaves (a test failback's db01-test), unless the VM's own
	// LabGuest says otherwise.
	Guests map[string]LabGuest `json:"guests,omitempty"`
}

const labConfigName = "host.json"

// CreateLab makes a lab host in dir (created if needed). It refuses a dir
// that already holds one.
func CreateLab(dir string, cfg LabConfig) (*LabHost, error) {
	if cfg.Name == "" {
		cfg.Name = filepath.Base(dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{abs, filepath.Join(abs, "vms"), filepath.Join(abs, "disks")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create lab host folder: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(abs, labConfigName)); err == nil {
		return nil, fmt.Errorf("%s already holds a lab host; open it instead", abs)
	}
	if err := osfile.WriteJSON(filepath.Join(abs, labConfigName), cfg); err != nil {
		return nil, fmt.Errorf("write lab host config: %w", err)
	}
	return &LabHost{dir: abs}, nil
}

// OpenLab opens the lab host in dir.
func OpenLab(dir string) (*LabHost, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	h := &LabHost{dir: abs}
	if _, err := h.config(); err != nil {
		return nil, err
	}
	return h, nil
}

// Dir is the lab's folder.
func (h *LabHost) Dir() string { return h.dir }

// DiskFolder is where the lab keeps disks by default.
func (h *LabHost) DiskFolder() string { return filepath.Join(h.dir, "disks") }

// DefaultDiskPath is where the lab puts a VM's disk when nothing else is
// configured: disks/<vm>/disk<index>.vhdx (VHDX, as Hyper-V defaults to).
func (h *LabHost) DefaultDiskPath(vmName string, index int) string {
	key := strings.TrimSuffix(filepath.Base(h.vmFile(vmName)), ".json")
	return filepath.Join(h.DiskFolder(), key, fmt.Sprintf("disk%d.vhdx", index))
}

// Name implements Host.
func (h *LabHost) Name() string {
	cfg, err := h.config()
	if err != nil || cfg.Name == "" {
		return filepath.Base(h.dir)
	}
	return cfg.Name
}

// Describe implements Host.
func (h *LabHost) Describe() string { return "lab Hyper-V host in " + h.dir }

func (h *LabHost) config() (LabConfig, error) {
	var cfg LabConfig
	b, err := os.ReadFile(filepath.Join(h.dir, labConfigName))
	if err != nil {
		return cfg, fmt.Errorf("%s is not a lab host (no readable %s): %w", h.dir, labConfigName, err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", filepath.Join(h.dir, labConfigName), err)
	}
	return cfg, nil
}

// lock takes the lab's lock file, polling so that ctx can end the wait.
func (h *LabHost) lock(ctx context.Context, exclusive bool) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(h.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the lab lock: %w", err)
	}
	for {
		err := osfile.Lock(f, exclusive, false)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, osfile.ErrLocked) {
			f.Close()
			return nil, fmt.Errorf("lock the lab host: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// lockVM takes the lab's lock and reads VM name under it. On success the
// caller releases the lock with unlock; on an error nothing is held.
func (h *LabHost) lockVM(ctx context.Context, name string, exclusive bool) (v labVM, unlock func(), err error) {
	if unlock, err = h.lock(ctx, exclusive); err != nil {
		return v, nil, err
	}
	if v, err = h.readVM(name); err != nil {
		unlock()
		return v, nil, err
	}
	return v, unlock, nil
}

// labVM is a VM's file. Disk sizes are not stored: GetVM reads them from
// the images.
type labVM struct {
	VM
	// GuestIgnoresShutdown makes the guest ignore shutdown requests, so a
	// drill can see a forced turn-off.
	GuestIgnoresShutdown bool `json:"guest_ignores_shutdown,omitempty"`
	// Guest is how the guest answers the checks after a start.
	Guest LabGuest `json:"guest,omitzero"`
	// Cycles are reverse replication's checkpoints and change tracking.
	Cycles labCycleState `json:"cycles,omitzero"`
}

// vmFile names a VM's file: the lower-case name with unsafe bytes escaped
// (names are unique without regard to case, as Hyper-V matches them).
func (h *LabHost) vmFile(name string) string {
	var b strings.Builder
	for _, c := range []byte(strings.ToLower(name)) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || (c == '.' && b.Len() > 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	key := b.String()
	if len(key) > 120 {
		sum := sha256.Sum256([]byte(strings.ToLower(name)))
		key = hex.EncodeToString(sum[:16])
	}
	return filepath.Join(h.dir, "vms", key+".json")
}

func (h *LabHost) readVM(name string) (labVM, error) {
	var v labVM
	b, err := os.ReadFile(h.vmFile(name))
	if errors.Is(err, os.ErrNotExist) {
		return v, newHostError(ErrVMNotFound, h.Name(), "get VM "+psQuote(name), "")
	}
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%s is damaged: %w", h.vmFile(name), err)
	}
	return v, nil
}

func (h *LabHost) writeVM(v labVM) error { return osfile.WriteJSON(h.vmFile(v.Name), v) }

func (h *LabHost) allVMs() ([]labVM, error) {
	entries, err := os.ReadDir(filepath.Join(h.dir, "vms"))
	if err != nil {
		return nil, err
	}
	var out []labVM
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(h.dir, "vms", e.Name()))
		if err != nil {
			return nil, err
		}
		var v labVM
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s is damaged: %w", e.Name(), err)
		}
		out = append(out, v)
	}
	return out, nil
}

// view is the VM as GetVM returns it, with disk facts read from the images.
func (h *LabHost) view(v labVM) VM {
	vm := v.VM
	vm.Disks = make([]Disk, len(v.Disks))
	for i, d := range v.Disks {
		vm.Disks[i] = Disk{HostPath: d.HostPath, Controller: d.Controller, ParentPath: d.ParentPath}
		// A differencing VHDX reads through its parent, whose path
		// Get-VHD reports as ParentPath.
		img, err := vdisk.OpenChain(d.HostPath, vdisk.ChainOptions{ReadOnly: true})
		if err != nil {
			vm.Disks[i].Problem = err.Error()
			continue
		}
		info := img.Info()
		img.Close()
		if info.Parent != "" {
			vm.Disks[i].ParentPath = info.Parent
		}
		vm.Disks[i].VirtualSize = info.VirtualSize
		vm.Disks[i].FileSize = info.FileSize
		vm.Disks[i].Format = strings.ToUpper(string(info.Format))
		vm.Disks[i].Fixed = info.Fixed
	}
	if vm.Adapters == nil {
		vm.Adapters = []Adapter{}
	}
	return vm
}

// samePath compares local paths as the file system does.
func samePath(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newVMID() string {
	s := randomHex(16)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

package hyperv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/failback/failback/vdisk"
)

// GetVM implements Host.
func (h *LabHost) GetVM(ctx context.Context, name string) (VM, error) {
	v, unlock, err := h.lockVM(ctx, name, false)
	if err != nil {
		return VM{}, err
	}
	defer unlock()
	return h.view(v), nil
}

// ListSwitches implements Host: the switches of host.json.
func (h *LabHost) ListSwitches(ctx context.Context) ([]Switch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := h.config()
	if err != nil {
		return nil, err
	}
	return append([]Switch{}, cfg.Switches...), nil
}

func (h *LabHost) hasSwitch(name string) (bool, error) {
	cfg, err := h.config()
	if err != nil {
		return false, err
	}
	for _, s := range cfg.Switches {
		if strings.EqualFold(s.Name, name) {
			return true, nil
		}
	}
	return false, nil
}

func (h *LabHost) switchMissing(op, name string) error {
	e := newHostError(ErrSwitchNotFound, h.Name(), op, "there is no virtual switch named "+psQuote(name))
	e.Hint = fmt.Sprintf(`Add {"name": %q, "type": "External"} to "switches" in %s (on a real host: %s)`,
		name, filepath.Join(h.dir, labConfigName), newSwitchAdvice(name, ""))
	return e
}

// CreateVM implements Host. Disks are created with vdisk in the format
// their extension names; on failure everything created is removed.
func (h *LabHost) CreateVM(ctx context.Context, spec VMSpec) (VM, error) {
	op := "create VM " + psQuote(spec.Name)
	if err := spec.Validate(); err != nil {
		return VM{}, fmt.Errorf("%s: %s: %w", h.Name(), op, err)
	}
	unlock, err := h.lock(ctx, true)
	if err != nil {
		return VM{}, err
	}
	defer unlock()
	if _, err := h.readVM(spec.Name); err == nil {
		return VM{}, newHostError(ErrVMExists, h.Name(), op, "")
	} else if !errors.Is(err, ErrVMNotFound) {
		return VM{}, err
	}
	for _, sw := range spec.Switches() {
		if ok, err := h.hasSwitch(sw); err != nil || !ok {
			if err != nil {
				return VM{}, err
			}
			return VM{}, h.switchMissing(op, sw)
		}
	}
	cfg, err := h.config()
	if err != nil {
		return VM{}, err
	}
	if spec.HighlyAvailable && cfg.Cluster == "" {
		return VM{}, newHostError(ErrBadState, h.Name(), op, "the lab host is not a cluster node (no \"cluster\" in host.json): the VM cannot be made highly available")
	}
	for _, d := range spec.Disks {
		if err := h.checkDiskForCreate(op, d); err != nil {
			return VM{}, err
		}
	}
	var created []string
	undo := func() {
		for _, p := range created {
			os.Remove(p)
		}
	}
	for _, d := range spec.Disks {
		if d.Existing {
			continue
		}
		if err := ctx.Err(); err != nil {
			undo()
			return VM{}, err
		}
		if err := createLabDisk(d); err != nil {
			undo()
			e := newHostError(ErrHostFailed, h.Name(), op, "create "+d.HostPath)
			e.Err = err
			return VM{}, e
		}
		created = append(created, d.HostPath)
	}
	v := labVM{VM: VM{
		Name: spec.Name, ID: newVMID(), State: StateOff, Generation: spec.Generation,
		CPUCount: spec.CPUCount, MemoryBytes: spec.MemoryBytes, DynamicMemory: spec.DynamicMemory,
		MemoryMinimum: spec.MemoryMinimum, MemoryMaximum: spec.MemoryMaximum,
		Path: spec.Folder, Created: time.Now().UTC().Truncate(time.Millisecond),
		DVDDrives: spec.dvdDrives(), SecureBoot: spec.SecureBoot, SecureBootTemplate: spec.SecureBootTemplate,
		Clustered: spec.HighlyAvailable, Node: cfg.Name,
	}}
	if v.Generation == 2 && v.SecureBoot == "" {
		v.SecureBoot = "On" // Hyper-V's default for generation 2
	}
	if v.Generation == 2 && v.SecureBootTemplate == "" {
		v.SecureBootTemplate = "MicrosoftWindows"
	}
	for _, a := range spec.adapters() {
		ad := Adapter{Name: a.Name, SwitchName: a.SwitchName, MAC: "00155D" + strings.ToUpper(randomHex(3)), VLAN: a.VLAN}
		if a.MAC != "" {
			ad.MAC, ad.StaticMAC = normMAC(a.MAC), true
		}
		if ad.Name == "" {
			ad.Name = "Network Adapter"
		}
		v.Adapters = append(v.Adapters, ad)
	}
	if v.Path == "" {
		v.Path = filepath.Join(h.dir, "vms")
	}
	for _, d := range spec.Disks {
		v.Disks = append(v.Disks, Disk{HostPath: filepath.Clean(d.HostPath), Controller: d.Controller})
	}
	if err := h.writeVM(v); err != nil {
		undo()
		return VM{}, err
	}
	return h.view(v), nil
}

func (h *LabHost) checkDiskForCreate(op string, d DiskSpec) error {
	if !filepath.IsAbs(d.HostPath) {
		return newHostError(ErrDiskNotFound, h.Name(), op, fmt.Sprintf("%q is not an absolute path", d.HostPath))
	}
	_, err := os.Lstat(d.HostPath)
	switch {
	case d.Existing && errors.Is(err, os.ErrNotExist):
		return newHostError(ErrDiskNotFound, h.Name(), op, d.HostPath+" does not exist")
	case d.Existing && err == nil:
		return openCheck(h.Name(), op, d.HostPath)
	case !d.Existing && err == nil:
		return newHostError(ErrDiskExists, h.Name(), op, d.HostPath)
	case !d.Existing && !errors.Is(err, os.ErrNotExist):
		return err
	}
	if _, err := vdisk.FormatFromPath(d.HostPath); err != nil {
		return newHostError(ErrHostFailed, h.Name(), op, err.Error())
	}
	return nil
}

func createLabDisk(d DiskSpec) error {
	format, err := vdisk.FormatFromPath(d.HostPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(d.HostPath), 0o755); err != nil {
		return err
	}
	img, err := vdisk.Create(d.HostPath, vdisk.CreateOptions{Format: format, Size: d.VirtualSize, Fixed: d.Fixed && format != vdisk.Raw})
	if err != nil {
		return err
	}
	return img.Close()
}

// openCheck opens a disk read-only to prove it is a readable image (a
// differencing VHDX with its parent, as Hyper-V opens it).
func openCheck(host, op, path string) error {
	img, err := vdisk.OpenChain(path, vdisk.ChainOptions{ReadOnly: true})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return newHostError(ErrDiskNotFound, host, op, path+" does not exist")
		}
		e := newHostError(ErrHostFailed, host, op, path+" cannot be opened as a disk image")
		e.Err = err
		return e
	}
	return img.Close()
}

// AttachDisk implements Host. A lab VM must be off to take a disk.
func (h *LabHost) AttachDisk(ctx context.Context, vmName string, d DiskSpec) error {
	op := fmt.Sprintf("attach %s to VM %s", d.HostPath, psQuote(vmName))
	v, unlock, err := h.lockVM(ctx, vmName, true)
	if err != nil {
		return err
	}
	defer unlock()
	d.Existing = true
	if err := d.validate(v.Generation); err != nil {
		return fmt.Errorf("%s: %s: %w", h.Name(), op, err)
	}
	if v.State != StateOff {
		return newHostError(ErrBadState, h.Name(), op, "the lab VM is "+string(v.State)+"; lab VMs take disks only when off")
	}
	if err := h.checkDiskForCreate(op, d); err != nil {
		return err
	}
	for _, have := range v.Disks {
		if have.Controller == d.Controller {
			return newHostError(ErrHostFailed, h.Name(), op, fmt.Sprintf("%s already holds %s", d.Slot(), have.HostPath))
		}
	}
	for _, dvd := range v.DVDDrives {
		if dvd == d.Controller {
			return newHostError(ErrHostFailed, h.Name(), op, fmt.Sprintf("%s holds the VM's DVD drive", d.Slot()))
		}
	}
	v.Disks = append(v.Disks, Disk{HostPath: filepath.Clean(d.HostPath), Controller: d.Controller})
	return h.writeVM(v)
}

// StartVM implements Host: every disk must exist, open as an image and be
// free of writers; the disks are then marked as in use.
func (h *LabHost) StartVM(ctx context.Context, name string) error {
	op := "start VM " + psQuote(name)
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	if v.State == StateRunning {
		return nil
	}
	for _, d := range v.Disks {
		if err := openCheck(h.Name(), op, d.HostPath); err != nil {
			return err
		}
	}
	for _, a := range v.Adapters {
		if ok, err := h.hasSwitch(a.SwitchName); err != nil || (!ok && a.SwitchName != "") {
			if err != nil {
				return err
			}
			return h.switchMissing(op, a.SwitchName)
		}
	}
	var marked []string
	fail := func(err error) error {
		for _, p := range marked {
			removeMarker(p)
		}
		return err
	}
	for _, d := range v.Disks {
		f, err := lockDisk(d.HostPath)
		if err != nil {
			var he *HostError
			if errors.As(err, &he) {
				he.Host, he.Op = h.Name(), op
			}
			return fail(err)
		}
		m, running, err := readMarker(d.HostPath)
		// A marker naming this very VM of this host, which is Off (we hold
		// the lab lock), was left by a start that crashed before it
		// recorded the VM as running: it is stale, and rewritten below.
		own := running && strings.EqualFold(m.VM, v.Name) && m.Host == h.Name()
		if err == nil && running && !own {
			err = newHostError(ErrDiskInUse, h.Name(), op, fmt.Sprintf("%s is attached to VM %s on %s, which is running", d.HostPath, psQuote(m.VM), m.Host))
		}
		if err == nil {
			err = writeMarker(d.HostPath, diskMarker{VM: v.Name, Host: h.Name(), Since: time.Now().UTC(), PID: os.Getpid()})
		}
		f.Close()
		if err != nil {
			return fail(err)
		}
		marked = append(marked, d.HostPath)
	}
	v.State = StateRunning
	if err := h.writeVM(v); err != nil {
		return fail(err)
	}
	return nil
}

// ShutdownVM implements Host. A lab guest shuts down at once, unless it is
// set to ignore shutdown requests: then it is turned off after timeout.
func (h *LabHost) ShutdownVM(ctx context.Context, name string, timeout time.Duration) (bool, error) {
	rec, unlock, err := h.lockVM(ctx, name, false)
	if err != nil {
		return false, err
	}
	unlock()
	if rec.State == StateOff {
		// Already off; clear what a crashed start may have left behind.
		return false, h.clearOwnMarkers(ctx, name)
	}
	forced := rec.GuestIgnoresShutdown
	if forced {
		t := time.NewTimer(timeout)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
	if rec, unlock, err = h.lockVM(ctx, name, true); err != nil {
		return false, err
	}
	defer unlock()
	rec.State = StateOff
	if err := h.writeVM(rec); err != nil {
		return false, err
	}
	return forced, h.removeOwnMarkers(rec)
}

// clearOwnMarkers removes the running markers a VM that is off still has.
func (h *LabHost) clearOwnMarkers(ctx context.Context, name string) error {
	rec, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	if rec.State != StateOff {
		return nil
	}
	return h.removeOwnMarkers(rec)
}

// removeOwnMarkers removes the markers of rec's disks that name rec on this
// host (a disk another lab's VM runs on keeps its marker).
func (h *LabHost) removeOwnMarkers(rec labVM) error {
	for _, d := range rec.Disks {
		if m, ok, _ := readMarker(d.HostPath); ok && strings.EqualFold(m.VM, rec.Name) && m.Host == h.Name() {
			if err := removeMarker(d.HostPath); err != nil {
				return err
			}
		}
	}
	return nil
}

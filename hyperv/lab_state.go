package hyperv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SetGuestIgnoresShutdown makes a lab VM's guest ignore (or honour)
// shutdown requests, to drill the forced turn-off.
func (h *LabHost) SetGuestIgnoresShutdown(ctx context.Context, name string, ignore bool) error {
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	v.GuestIgnoresShutdown = ignore
	return h.writeVM(v)
}

// DiskInUse implements Host: attached to a lab VM that is not off, marked
// running by another lab, or write-locked by another process.
func (h *LabHost) DiskInUse(ctx context.Context, path string) (DiskUse, error) {
	unlock, err := h.lock(ctx, false)
	if err != nil {
		return DiskUse{}, err
	}
	defer unlock()
	u := DiskUse{}
	if _, err := os.Stat(path); err == nil {
		u.Exists = true
	}
	vms, err := h.allVMs()
	if err != nil {
		return u, err
	}
	for _, v := range vms {
		for _, d := range v.Disks {
			if v.State != StateOff && samePath(d.HostPath, path) {
				u.VMs = append(u.VMs, v.Name)
			}
		}
	}
	if m, ok, err := readMarker(path); err != nil {
		return u, err
	} else if ok && len(u.VMs) == 0 {
		u.VMs = append(u.VMs, m.VM)
		u.Reason = fmt.Sprintf("attached to VM %s on lab host %s, which is running", psQuote(m.VM), m.Host)
	}
	locked, err := diskWriteLocked(path)
	if err != nil {
		return u, err
	}
	if locked {
		u.Locked = true
		u.Reason = "another process is writing it (a sync in progress)"
	}
	u.InUse = len(u.VMs) > 0 || u.Locked
	if u.Reason == "" && len(u.VMs) > 0 {
		u.Reason = "attached to " + strings.Join(u.VMs, ", ") + ", which is not off"
	}
	return u, nil
}

// FreeSpace implements Host: the file system's free space, or host.json's
// free_bytes when set.
func (h *LabHost) FreeSpace(ctx context.Context, folder string) (Space, error) {
	if err := ctx.Err(); err != nil {
		return Space{}, err
	}
	probe := filepath.Clean(folder)
	for {
		if _, err := os.Stat(probe); err == nil {
			break
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			return Space{}, newHostError(ErrDiskNotFound, h.Name(), "measure free space for "+folder, "no part of it exists")
		}
		probe = parent
	}
	s, err := volumeSpace(probe)
	if err != nil {
		return Space{}, fmt.Errorf("measure free space for %s: %w", folder, err)
	}
	cfg, err := h.config()
	if err != nil {
		return Space{}, err
	}
	if cfg.FreeBytes > 0 {
		s.Free = cfg.FreeBytes
		s.Total = max(s.Total, s.Free)
	}
	return s, nil
}

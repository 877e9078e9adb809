package hyperv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/failback/failback/internal/osfile"
	"github.com/failback/failback/vdisk"
)

// Lab drills of what admins do to VMs: checkpoints (a VM then runs from a
// differencing disk per disk, and the file failback would write is only
// its parent), and the Saved and Paused states.

// Checkpoint takes a checkpoint of a lab VM, as Checkpoint-VM does: each
// disk gets a child (<name>_<id>.avhdx beside it) that the VM is attached
// to from then on, so the VM's writes go to the child and the configured
// image becomes its parent. The lab's child is a dynamic VHDX holding only
// what was written after the checkpoint (vdisk has no differencing
// format); RemoveCheckpoints merges it back. The VM must be off.
func (h *LabHost) Checkpoint(ctx context.Context, name, checkpoint string) error {
	op := "checkpoint VM " + psQuote(name)
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	if v.State != StateOff {
		return newHostError(ErrBadState, h.Name(), op, "lab VMs take checkpoints only when off")
	}
	var made []string
	undo := func() {
		for _, p := range made {
			os.Remove(p)
		}
	}
	id := strings.ToUpper(newVMID())
	disks := append([]Disk(nil), v.Disks...)
	for i, d := range disks {
		img, err := vdisk.Open(d.HostPath, vdisk.OpenOptions{ReadOnly: true})
		if err != nil {
			undo()
			return newHostError(ErrDiskNotFound, h.Name(), op, err.Error())
		}
		size := img.Size()
		img.Close()
		base := strings.TrimSuffix(filepath.Base(d.HostPath), filepath.Ext(d.HostPath))
		child := filepath.Join(filepath.Dir(d.HostPath), base+"_"+id+".avhdx")
		c, err := vdisk.Create(child, vdisk.CreateOptions{Format: vdisk.VHDX, Size: size})
		if err == nil {
			err = c.Close()
		}
		if err != nil {
			undo()
			return fmt.Errorf("%s: %s: %w", h.Name(), op, err)
		}
		made = append(made, child)
		disks[i].ParentPath, disks[i].HostPath = d.HostPath, child
	}
	v.Disks = disks
	v.Checkpoints = append(v.Checkpoints, Checkpoint{Name: checkpoint, Type: "Standard", Created: time.Now().UTC().Truncate(time.Second)})
	if err := h.writeVM(v); err != nil {
		undo()
		return err
	}
	return nil
}

// RemoveCheckpoints removes every checkpoint of a lab VM, as
// Remove-VMCheckpoint does: each child's data is merged into its parent,
// the child deleted and the parent attached again. The VM must be off.
func (h *LabHost) RemoveCheckpoints(ctx context.Context, name string) error {
	op := "remove the checkpoints of VM " + psQuote(name)
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	if v.State != StateOff {
		return newHostError(ErrBadState, h.Name(), op, "lab VMs merge checkpoints only when off")
	}
	for i, d := range v.Disks {
		for d.ParentPath != "" {
			if err := mergeInto(d.HostPath, d.ParentPath); err != nil {
				return fmt.Errorf("%s: %s: merge %s into %s: %w", h.Name(), op, d.HostPath, d.ParentPath, err)
			}
			if err := os.Remove(d.HostPath); err != nil {
				return err
			}
			d = Disk{HostPath: d.ParentPath, Controller: d.Controller}
		}
		v.Disks[i] = d
	}
	v.Checkpoints = nil
	return h.writeVM(v)
}

// mergeInto writes child's allocated data over parent.
func mergeInto(child, parent string) error {
	c, err := vdisk.Open(child, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := vdisk.Open(parent, vdisk.OpenOptions{})
	if err != nil {
		return err
	}
	ext, err := c.Allocated()
	if err != nil {
		p.Close()
		return err
	}
	buf := make([]byte, 1<<20)
	for _, e := range ext {
		for off := e.Off; off < e.Off+e.Len; {
			n := min(int64(len(buf)), e.Off+e.Len-off)
			if _, err := c.ReadAt(buf[:n], off); err != nil {
				p.Close()
				return err
			}
			if _, err := p.WriteAt(buf[:n], off); err != nil {
				p.Close()
				return err
			}
			off += n
		}
	}
	return p.Close()
}

// SetState puts a lab VM in the Saved or Paused state, as Save-VM and
// Suspend-VM do, to drill what a failback makes of one. Its disks stay in
// use (DiskInUse) until it is Off again.
func (h *LabHost) SetState(ctx context.Context, name string, state VMState) error {
	if state != StateSaved && state != StatePaused {
		return fmt.Errorf("lab VMs are put Saved or Paused with SetState; StartVM and ShutdownVM do the rest")
	}
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	v.State = state
	return h.writeVM(v)
}

// DiscardSavedState implements Host: a Saved or Paused lab VM ends Off
// (its running markers, if a start left any, are removed).
func (h *LabHost) DiscardSavedState(ctx context.Context, name string) error {
	op := "discard the saved state of VM " + psQuote(name)
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	switch v.State {
	case StateOff:
		return nil
	case StateSaved, StatePaused:
	default:
		return newHostError(ErrBadState, h.Name(), op, "the VM is "+string(v.State)+": only a Saved or Paused VM has a state to discard")
	}
	v.State = StateOff
	if err := h.writeVM(v); err != nil {
		return err
	}
	return h.removeOwnMarkers(v)
}

// Info implements Host: host.json's name and cluster.
func (h *LabHost) Info(ctx context.Context) (HostInfo, error) {
	if err := ctx.Err(); err != nil {
		return HostInfo{}, err
	}
	cfg, err := h.config()
	if err != nil {
		return HostInfo{}, err
	}
	return HostInfo{Computer: h.Name(), Cluster: cfg.Cluster, Nodes: cfg.Nodes, CSVs: cfg.CSVs, SiteRecovery: cfg.SiteRecovery}, nil
}

// EditVM changes a lab VM's record as an administrator would on a real
// host with cmdlets the lab has no verb for (Set-VMNetworkAdapterVlan,
// Enable-VMReplication...): adapters, replication, Secure Boot, DVD drives.
// Its name and disks are not for editing.
func (h *LabHost) EditVM(ctx context.Context, name string, edit func(vm *VM)) error {
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	keepName, keepDisks := v.Name, append([]Disk(nil), v.Disks...)
	edit(&v.VM)
	v.Name, v.Disks = keepName, keepDisks
	return h.writeVM(v)
}

// EditConfig changes the lab host's host.json (its cluster, switches,
// Site Recovery Provider, free space).
func (h *LabHost) EditConfig(edit func(cfg *LabConfig)) error {
	unlock, err := h.lock(context.Background(), true)
	if err != nil {
		return err
	}
	defer unlock()
	cfg, err := h.config()
	if err != nil {
		return err
	}
	edit(&cfg)
	return osfile.WriteJSON(filepath.Join(h.dir, labConfigName), cfg)
}

package hyperv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/failback/failback/vdisk"
)

// The lab's reverse replication cycles model what Hyper-V does for backup
// software, so consistency and change tracking are tested, not assumed:
//
//   - A recovery checkpoint of a running VM sends the guest's writes
//     (GuestWrite) to a child file per disk, holding exactly the ranges
//     written; the disk file stays as it was at the checkpoint. Ending
//     the cycle merges those ranges back.
//   - Change tracking records every range a guest writes against each
//     live RCT id of the disk. An id is made when a cycle freezes the
//     disk and becomes a reference point when the cycle ends with Keep.
//   - A disk file written by anything but the host (its size or
//     modification time is not what the host last left) breaks the chain,
//     as a VHDX edited outside Hyper-V does: the next cycle is told why
//     and scans.

// labCycle is the open cycle of a lab VM.
type labCycle struct {
	ID          string      `json:"id"`
	Tag         string      `json:"tag"`
	Consistency Consistency `json:"consistency"`
	// Children maps a disk path to its child file and the ranges the
	// guest wrote there.
	Children map[string]labChild `json:"children"`
}

type labChild struct {
	Path    string   `json:"path"`
	Written []Extent `json:"written,omitempty"`
}

// labTrack is a disk's change tracking.
type labTrack struct {
	// Size and MTime are the disk file as the host last left it.
	Size  int64     `json:"size"`
	MTime time.Time `json:"mtime"`
	// Since maps each live RCT id to the ranges written after it.
	Since map[string][]Extent `json:"since"`
}

// labRefPoint is a reference point: a cycle's RCT ids, one per disk.
type labRefPoint struct {
	ID  string            `json:"id"`
	Tag string            `json:"tag"`
	RCT map[string]string `json:"rct"`
}

// labCycleState is the part of a lab VM's file the cycles keep.
type labCycleState struct {
	Cycle     *labCycle            `json:"cycle,omitempty"`
	Tracks    map[string]*labTrack `json:"tracks,omitempty"`
	RefPoints []labRefPoint        `json:"reference_points,omitempty"`
	// NoBackupIntegration: the guest offers no application-consistent
	// checkpoint (its Backup (volume shadow copy) integration service is
	// off or failing).
	NoBackupIntegration bool `json:"no_backup_integration,omitempty"`
}

func trackKey(path string) string { return strings.ToLower(filepath.Clean(path)) }

// SetBackupIntegration turns a lab guest's application-consistent
// checkpoints on or off, to drill the crash-consistent fallback.
func (h *LabHost) SetBackupIntegration(ctx context.Context, name string, on bool) error {
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	v.Cycles.NoBackupIntegration = !on
	return h.writeVM(v)
}

// BeginCycle implements Cycler.
func (h *LabHost) BeginCycle(ctx context.Context, name string, o CycleOptions) (Cycle, error) {
	op := "freeze VM " + psQuote(name) + " for reverse replication"
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return Cycle{}, err
	}
	defer unlock()
	var c Cycle
	if old := v.Cycles.Cycle; old != nil {
		if err := h.mergeCycle(&v, old); err != nil {
			return Cycle{}, fmt.Errorf("%s: %s: remove the checkpoint %s left by an earlier cycle: %w", h.Name(), op, old.ID, err)
		}
		c.Removed = append(c.Removed, old.ID)
		h.dropIDs(&v, old.ID)
	}
	id := strings.ToUpper(newVMID())
	cyc := &labCycle{ID: id, Tag: o.Tag, Children: map[string]labChild{}}
	switch {
	case v.State == StateOff:
		cyc.Consistency = VMOff
	case v.State != StateRunning:
		return Cycle{}, newHostError(ErrBadState, h.Name(), op, "the VM is "+string(v.State)+": a cycle reads a VM that is running or off")
	case !v.Cycles.NoBackupIntegration:
		cyc.Consistency = AppConsistent
	case o.CrashConsistent:
		cyc.Consistency = CrashConsistent
	default:
		return Cycle{}, newHostError(ErrBadState, h.Name(), op, "the guest cannot give an application-consistent checkpoint (its Backup integration service is off or a VSS writer failed)")
	}
	c.Checkpoint = id
	if v.Cycles.Tracks == nil {
		v.Cycles.Tracks = map[string]*labTrack{}
	}
	for _, d := range v.Disks {
		cd := CycleDisk{Path: d.HostPath, ReadPath: d.HostPath}
		k := trackKey(d.HostPath)
		st, err := os.Stat(d.HostPath)
		if err != nil {
			return Cycle{}, newHostError(ErrDiskNotFound, h.Name(), op, err.Error())
		}
		tr := v.Cycles.Tracks[k]
		switch {
		case tr == nil:
			cd.Why = "change tracking starts with this cycle"
			tr = &labTrack{}
		case st.Size() != tr.Size || !st.ModTime().Equal(tr.MTime):
			cd.Why = "the disk was written outside Hyper-V since the last cycle (the change tracking chain is broken)"
			tr.Since = nil
		case len(o.Since) == 0:
			cd.Why = "no reference point recorded yet"
		default:
			cd.Why = "none of the recorded change tracking ids is this disk's (its reference point is gone)"
			for _, id := range o.Since {
				if ch, ok := tr.Since[id]; ok {
					cd.ChangesKnown, cd.Changed, cd.Why = true, slices.Clone(ch), ""
				}
			}
		}
		tr.Size, tr.MTime = st.Size(), st.ModTime()
		if tr.Since == nil {
			tr.Since = map[string][]Extent{}
		}
		tr.Since[rctID(id, k)] = nil
		v.Cycles.Tracks[k] = tr
		{
			base := strings.TrimSuffix(filepath.Base(d.HostPath), filepath.Ext(d.HostPath))
			child := filepath.Join(filepath.Dir(d.HostPath), base+"_"+id+".lab-child")
			f, err := os.OpenFile(child, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				h.removeChildren(cyc)
				return Cycle{}, fmt.Errorf("%s: %s: %w", h.Name(), op, err)
			}
			f.Close()
			cyc.Children[k] = labChild{Path: child}
		}
		c.Disks = append(c.Disks, cd)
	}
	c.Consistency = cyc.Consistency
	v.Cycles.Cycle = cyc
	if err := h.writeVM(v); err != nil {
		h.removeChildren(cyc)
		return Cycle{}, err
	}
	return c, nil
}

// rctID is a disk's RCT id within a cycle.
func rctID(cycle, disk string) string {
	return fmt.Sprintf("rct:%s:%08x", cycle, fnv32(disk))
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// EndCycle implements Cycler.
func (h *LabHost) EndCycle(ctx context.Context, name string, c Cycle, e CycleEnd) (RefPoint, error) {
	op := "end the reverse replication cycle of VM " + psQuote(name)
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return RefPoint{}, err
	}
	defer unlock()
	cyc := v.Cycles.Cycle
	if cyc == nil || cyc.ID != c.Checkpoint {
		return RefPoint{}, newHostError(ErrBadState, h.Name(), op, "the cycle's checkpoint is gone (another cycle removed it)")
	}
	if err := h.mergeCycle(&v, cyc); err != nil {
		return RefPoint{}, fmt.Errorf("%s: %s: %w", h.Name(), op, err)
	}
	v.Cycles.Cycle = nil
	var rp RefPoint
	if e.Keep {
		lp := labRefPoint{ID: cyc.ID, Tag: cyc.Tag, RCT: map[string]string{}}
		rp.ID = cyc.ID
		for _, d := range c.Disks {
			id := rctID(cyc.ID, trackKey(d.Path))
			lp.RCT[trackKey(d.Path)] = id
			rp.RCT = append(rp.RCT, id)
		}
		v.Cycles.RefPoints = append(v.Cycles.RefPoints, lp)
	} else {
		h.dropIDs(&v, cyc.ID)
	}
	var keep []labRefPoint
	for _, p := range v.Cycles.RefPoints {
		if e.Keep && slices.Contains(e.Drop, p.ID) && p.ID != cyc.ID {
			h.dropIDs(&v, p.ID)
			continue
		}
		keep = append(keep, p)
	}
	v.Cycles.RefPoints = keep
	return rp, h.writeVM(v)
}

// dropIDs forgets the RCT ids of a lab cycle on every disk.
func (h *LabHost) dropIDs(v *labVM, cycle string) {
	for k, tr := range v.Cycles.Tracks {
		delete(tr.Since, rctID(cycle, k))
	}
}

// mergeCycle writes the children's ranges into their disks, removes the
// children and records the disks as the host left them.
func (h *LabHost) mergeCycle(v *labVM, cyc *labCycle) error {
	for k, ch := range cyc.Children {
		disk := diskPathOf(v, k)
		if disk == "" {
			continue
		}
		if len(ch.Written) > 0 {
			if err := mergeRanges(ch.Path, disk, ch.Written); err != nil {
				return fmt.Errorf("merge %s into %s: %w", ch.Path, disk, err)
			}
		}
		if err := os.Remove(ch.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := h.restamp(v, disk); err != nil {
			return err
		}
	}
	return nil
}

func (h *LabHost) removeChildren(cyc *labCycle) {
	for _, ch := range cyc.Children {
		os.Remove(ch.Path)
	}
}

// restamp records a disk file as the host left it.
func (h *LabHost) restamp(v *labVM, disk string) error {
	tr := v.Cycles.Tracks[trackKey(disk)]
	if tr == nil {
		return nil
	}
	st, err := os.Stat(disk)
	if err != nil {
		return err
	}
	tr.Size, tr.MTime = st.Size(), st.ModTime()
	return nil
}

func diskPathOf(v *labVM, key string) string {
	for _, d := range v.Disks {
		if trackKey(d.HostPath) == key {
			return d.HostPath
		}
	}
	return ""
}

// mergeRanges copies ranges of the child file into the disk image.
func mergeRanges(child, disk string, ranges []Extent) error {
	c, err := os.Open(child)
	if err != nil {
		return err
	}
	defer c.Close()
	img, err := vdisk.Open(disk, vdisk.OpenOptions{})
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for _, e := range ranges {
		for off := e.Off; off < e.Off+e.Len; {
			n := min(int64(len(buf)), e.Off+e.Len-off)
			if _, err := c.ReadAt(buf[:n], off); err != nil {
				img.Close()
				return err
			}
			if _, err := img.WriteAt(buf[:n], off); err != nil {
				img.Close()
				return err
			}
			off += n
		}
	}
	return img.Close()
}

// GuestWrite writes p at off of disk index i of a running lab VM, as its
// guest would: into the open cycle's child when there is one, else into
// the disk; change tracking records the range against every live id.
func (h *LabHost) GuestWrite(ctx context.Context, name string, i int, off int64, p []byte) error {
	op := "write to a disk of VM " + psQuote(name)
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	if v.State != StateRunning {
		return newHostError(ErrBadState, h.Name(), op, "only a running guest writes")
	}
	if i < 0 || i >= len(v.Disks) {
		return fmt.Errorf("%s: %s: no disk %d", h.Name(), op, i)
	}
	disk := v.Disks[i].HostPath
	k := trackKey(disk)
	e := Extent{Off: off, Len: int64(len(p))}
	if cyc := v.Cycles.Cycle; cyc != nil && cyc.Children[k].Path != "" {
		ch := cyc.Children[k]
		f, err := os.OpenFile(ch.Path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteAt(p, off)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		ch.Written = addExtent(ch.Written, e)
		cyc.Children[k] = ch
	} else {
		img, err := vdisk.Open(disk, vdisk.OpenOptions{})
		if err != nil {
			return err
		}
		_, err = img.WriteAt(p, off)
		if cerr := img.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := h.restamp(&v, disk); err != nil {
			return err
		}
	}
	if tr := v.Cycles.Tracks[k]; tr != nil {
		for id, ch := range tr.Since {
			tr.Since[id] = addExtent(ch, e)
		}
	}
	return h.writeVM(v)
}

// addExtent adds e to sorted, merged extents.
func addExtent(list []Extent, e Extent) []Extent {
	if e.Len <= 0 {
		return list
	}
	out := make([]Extent, 0, len(list)+1)
	placed := false
	for _, x := range list {
		switch {
		case x.Off+x.Len < e.Off:
			out = append(out, x)
		case e.Off+e.Len < x.Off:
			if !placed {
				out = append(out, e)
				placed = true
			}
			out = append(out, x)
		default: // overlapping or adjacent: grow e
			end := max(x.Off+x.Len, e.Off+e.Len)
			e.Off = min(x.Off, e.Off)
			e.Len = end - e.Off
		}
	}
	if !placed {
		out = append(out, e)
	}
	return out
}

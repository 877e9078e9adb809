package hyperv

import (
	"context"
	"fmt"
)

// psCycle is begin-cycle's answer.
type psCycle struct {
	Checkpoint  string         `json:"checkpoint"`
	Consistency string         `json:"consistency"`
	Disks       psList[psDisk] `json:"disks"`
	Removed     psList[string] `json:"removed"`
}

type psDisk struct {
	Path         string         `json:"path"`
	ReadPath     string         `json:"read_path"`
	ChangesKnown bool           `json:"changes_known"`
	Changed      psList[Extent] `json:"changed"`
	Why          string         `json:"why"`
}

// BeginCycle implements Cycler: a recovery checkpoint (the one backup
// software takes) and, per disk, GetVirtualDiskChanges since the RCT ids.
func (h *PSHost) BeginCycle(ctx context.Context, name string, o CycleOptions) (Cycle, error) {
	what := "freeze VM " + quoteName(name) + " for reverse replication"
	params := []psParam{strParam("Name", name), strParam("Tag", o.Tag), boolParam("CrashConsistent", o.CrashConsistent),
		{Name: "Since", Value: psStrings(o.Since)}}
	for _, v := range o.Since {
		if p := strParam("Since", v); p.Bad != "" {
			params = append(params, p)
		}
	}
	var r psCycle
	if err := h.run(ctx, "begin-cycle", what, params, &r); err != nil {
		return Cycle{}, err
	}
	c := Cycle{Checkpoint: r.Checkpoint, Consistency: Consistency(r.Consistency), Removed: r.Removed}
	switch c.Consistency {
	case AppConsistent, CrashConsistent, VMOff:
	default:
		return Cycle{}, fmt.Errorf("%s: %s: the host answered consistency %q", h.name, what, r.Consistency)
	}
	if c.Checkpoint == "" {
		return Cycle{}, fmt.Errorf("%s: %s: the host named no checkpoint", h.name, what)
	}
	for _, d := range r.Disks {
		c.Disks = append(c.Disks, CycleDisk{Path: d.Path, ReadPath: d.ReadPath, ChangesKnown: d.ChangesKnown, Changed: d.Changed, Why: d.Why})
	}
	return c, nil
}

// EndCycle implements Cycler: ConvertToReferencePoint (which merges the
// checkpoint) or Remove-VMSnapshot, then DestroyReferencePoint of Drop.
func (h *PSHost) EndCycle(ctx context.Context, name string, c Cycle, e CycleEnd) (RefPoint, error) {
	what := "end the reverse replication cycle of VM " + quoteName(name)
	params := []psParam{strParam("Name", name), strParam("Checkpoint", c.Checkpoint), boolParam("Keep", e.Keep),
		{Name: "Drop", Value: psStrings(e.Drop)}}
	for _, v := range e.Drop {
		if p := strParam("Drop", v); p.Bad != "" {
			params = append(params, p)
		}
	}
	var r struct {
		ID  string         `json:"id"`
		RCT psList[string] `json:"rct"`
	}
	if err := h.run(ctx, "end-cycle", what, params, &r); err != nil {
		return RefPoint{}, err
	}
	if e.Keep && r.ID == "" {
		return RefPoint{}, fmt.Errorf("%s: %s: the host named no reference point", h.name, what)
	}
	return RefPoint{ID: r.ID, RCT: r.RCT}, nil
}

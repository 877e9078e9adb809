package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// pace waits, when the disk had SnapshotsPerWindow snapshots within the
// last Window, until the oldest of them leaves it: Azure refuses more.
func (d *managedDisk) pace(ctx context.Context, waiting func(time.Duration, string)) error {
	for {
		recent, err := d.recentSnapshots(ctx)
		if err != nil {
			return err
		}
		if len(recent) < d.m.o.SnapshotsPerWindow {
			return nil
		}
		wait := recent[len(recent)-d.m.o.SnapshotsPerWindow].Add(d.m.o.Window).Sub(d.m.o.Now())
		if wait <= 0 {
			return nil
		}
		wait += time.Second
		if waiting != nil {
			waiting(wait, fmt.Sprintf("Azure allows %d snapshots of a disk per %s", d.m.o.SnapshotsPerWindow, d.m.o.Window))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// recentSnapshots lists when the disk's snapshots within the window were
// made, oldest first: the ones ARM lists (anyone's) and the ones this
// process made (which a listing may not show yet).
func (d *managedDisk) recentSnapshots(ctx context.Context) ([]time.Time, error) {
	since := d.m.o.Now().Add(-d.m.o.Window)
	var out []time.Time
	listed := map[string]bool{}
	pager := d.m.snaps.NewListByResourceGroupPager(d.snapshotGroup(), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, d.m.wrapARM("list snapshots of", d.name, err)
		}
		for _, s := range page.Value {
			if s == nil || s.Properties == nil || s.Properties.CreationData == nil || s.Properties.TimeCreated == nil {
				continue
			}
			cd := s.Properties.CreationData
			if cd.SourceResourceID != nil && SameResource(*cd.SourceResourceID, d.ref.ID) && s.Properties.TimeCreated.After(since) {
				out = append(out, *s.Properties.TimeCreated)
				if s.Name != nil {
					listed[strings.ToLower(*s.Name)] = true
				}
			}
		}
	}
	d.m.mu.Lock()
	// Deleted ones count too: Azure counts snapshots made, not kept.
	for _, p := range d.m.paced[strings.ToLower(d.ref.ID)] {
		if p.at.After(since) && !listed[strings.ToLower(p.name)] {
			out = append(out, p.at)
		}
	}
	d.m.mu.Unlock()
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out, nil
}

// pacedSnap is a snapshot this process asked for, by name and time.
type pacedSnap struct {
	name string
	at   time.Time
}

// notePaced remembers a snapshot this process asked for.
func (m *ManagedDisks) notePaced(id, name string, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := strings.ToLower(id)
	keep := m.paced[key][:0]
	for _, p := range m.paced[key] {
		if t.Sub(p.at) < m.o.Window {
			keep = append(keep, p)
		}
	}
	m.paced[key] = append(keep, pacedSnap{name: name, at: t})
}

package workflow

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
)

// CheckLocation implements Service: the host checks of the pre-flight
// (reachable, the VM there or to be created, switch, room, target
// images), without the Azure VM and certificate checks.
func (m *Manager) CheckLocation(ctx context.Context, c Choices) (LocationReport, error) {
	_, ts, err := m.resolve(ctx, c)
	if err != nil {
		return LocationReport{}, err
	}
	p := &prepared{rep: PreflightReport{OK: true, Checks: []CheckRow{}}, alternate: c.Location == LocAlternate, choices: c}
	var saved []string
	for _, t := range ts {
		var disks []azure.VMDisk
		for _, d := range t.disks {
			disk, err := m.openDisk(ctx, d.ref)
			if err != nil {
				disk = nil
			}
			disks = append(disks, disk)
		}
		m.checkHost(ctx, p, t, disks)
		if t.existing != nil && savedOrPaused(t.existing.State) {
			saved = append(saved, t.vm.Name)
		}
	}
	host := c.AltHost
	if c.Location != LocAlternate {
		var hs []string
		seen := map[string]bool{}
		for _, t := range ts {
			if !seen[t.hostName] {
				seen[t.hostName] = true
				hs = append(hs, t.hostName)
			}
		}
		host = strings.Join(hs, ", ")
	}
	return LocationReport{Host: host, Checks: p.rep.Checks, OK: p.rep.OK, MissingSwitches: p.missing, HostSwitches: p.switches, SavedVMs: saved}, nil
}

// Certificates implements Service.
func (m *Manager) Certificates(ctx context.Context, c Choices) (CertReport, error) {
	_, ts, err := m.resolve(ctx, c)
	if err != nil {
		return CertReport{}, err
	}
	rep := CertReport{Needed: []string{}, Certs: []CertInfo{}, Disks: map[string]string{}}
	var disks []crypt.Disk
	need := map[string]bool{}
	for _, t := range ts {
		for _, d := range t.disks {
			disk, err := m.openDisk(ctx, d.ref)
			if err != nil {
				return rep, fmt.Errorf("disk %s of %s: %w", d.ref, t.vm.Name, err)
			}
			md, err := disk.Metadata(ctx)
			if err != nil {
				return rep, fmt.Errorf("metadata of %s: %w", d.ref, err)
			}
			meta, err := crypt.ParseMetaStrings(md)
			if err != nil {
				continue // not encrypted, or damaged: the pre-flight says which
			}
			name := cryptName(t.vm.Name, d.ref)
			disks = append(disks, crypt.Disk{Name: name, Meta: meta})
			rep.Disks[name] = meta.Thumbprint
			if !need[meta.Thumbprint] {
				need[meta.Thumbprint] = true
				rep.Needed = append(rep.Needed, meta.Thumbprint)
			}
		}
	}
	sort.Strings(rep.Needed)
	if m.deps.Certs == nil {
		return rep, nil
	}
	list, err := m.deps.Certs.List(ctx, m.now())
	if err != nil {
		return rep, fmt.Errorf("certificate store: %w", err)
	}
	for _, ci := range list {
		info := CertInfo{File: ci.File, Subject: ci.Subject, Thumbprint: ci.Thumbprint, NotBefore: ci.NotBefore,
			NotAfter: ci.NotAfter, Expired: ci.Expired, HasKey: ci.HasPrivateKey, Problem: ci.Error}
		if ci.Locked && info.Problem == "" {
			info.Problem = "PFX file locked: give its password in a [[certificate]] entry"
		}
		info.Matches = len(disks) > 0 && len(ci.Unlocks(disks)) == len(disks) && ci.Usable()
		rep.Certs = append(rep.Certs, info)
	}
	return rep, nil
}

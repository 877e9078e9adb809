package hyperv

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The parts of a VM beyond its disks that a failback must see or
// reproduce: checkpoints, DVD drives, network adapters with their VLANs,
// replication, and where a clustered VM runs.

// Checkpoint is one of a VM's checkpoints (Get-VMSnapshot). While a VM has
// any, it runs from differencing disks (.avhdx) whose parents are the
// files failback would otherwise write: writing a parent breaks the chain.
type Checkpoint struct {
	Name    string    `json:"name"`
	Type    string    `json:"type,omitempty"` // Standard, Recovery, Planned, Replica...
	Created time.Time `json:"created,omitzero"`
}

// Replication is a VM's Hyper-V Replica relationship (Get-VMReplication),
// which Azure Site Recovery also uses to protect a Hyper-V VM.
type Replication struct {
	Mode          string `json:"mode"` // Primary, Replica, ExtendedReplica
	State         string `json:"state,omitempty"`
	Health        string `json:"health,omitempty"`
	PrimaryServer string `json:"primary_server,omitempty"`
	ReplicaServer string `json:"replica_server,omitempty"`
}

// VLAN is a network adapter's VLAN setting (Get-VMNetworkAdapterVlan).
type VLAN struct {
	// Mode is Untagged (or ""), Access, Trunk or Private.
	Mode string `json:"mode,omitempty"`
	// AccessID is the VLAN of Access mode.
	AccessID int `json:"access_id,omitempty"`
	// NativeID and Allowed ("10,20-30") are Trunk mode's.
	NativeID int    `json:"native_id,omitempty"`
	Allowed  string `json:"allowed,omitempty"`
	// Private describes a private VLAN (mode, primary and secondary IDs),
	// which failback reports but does not reproduce.
	Private string `json:"private,omitempty"`
}

// String says the setting as an administrator reads it.
func (v VLAN) String() string {
	switch v.Mode {
	case "", "Untagged":
		return "untagged"
	case "Access":
		return "VLAN " + strconv.Itoa(v.AccessID)
	case "Trunk":
		return fmt.Sprintf("trunk %s (native %d)", v.Allowed, v.NativeID)
	}
	return "private VLAN " + v.Private
}

// AdapterSpec is one network adapter of a VM to create.
type AdapterSpec struct {
	Name string `json:"name,omitempty"`
	// SwitchName is the switch it connects to ("": not connected).
	SwitchName string `json:"switch_name"`
	// MAC is a static MAC address ("00155D0A1B2C"); "" lets Hyper-V
	// assign one.
	MAC  string `json:"mac,omitempty"`
	VLAN VLAN   `json:"vlan,omitzero"`
}

// HostInfo is what a host says about itself: its computer name and, on a
// failover cluster node, the cluster, its nodes and its cluster shared
// volumes; and whether the host is registered with an Azure Recovery
// Services vault (the Site Recovery Provider is installed).
type HostInfo struct {
	Computer string   `json:"computer"`
	Cluster  string   `json:"cluster,omitempty"`
	Nodes    []string `json:"nodes,omitempty"`
	// CSVs are the cluster shared volumes' paths (C:\ClusterStorage\Volume1).
	CSVs []string `json:"csvs,omitempty"`
	// SiteRecovery names the Azure Site Recovery Provider installed on the
	// host ("Microsoft Azure Site Recovery Provider 5.1.8800.0"), if any.
	SiteRecovery string `json:"site_recovery,omitempty"`
}

// OnCSV reports whether a host path lies on one of the cluster's shared
// volumes.
func (i HostInfo) OnCSV(p string) bool {
	for _, c := range i.CSVs {
		c = strings.TrimRight(c, `\/`)
		if len(p) > len(c) && strings.EqualFold(p[:len(c)], c) && (p[len(c)] == '\\' || p[len(c)] == '/') {
			return true
		}
	}
	return false
}

// defaultDVD is where New-VM puts the DVD drive of a generation 1 VM.
var defaultDVD = Controller{Type: IDE, Number: 1, Location: 0}

// adapters is the spec's adapters: Adapters, or one on SwitchName.
func (s VMSpec) adapters() []AdapterSpec {
	if len(s.Adapters) > 0 {
		return s.Adapters
	}
	return []AdapterSpec{{Name: "Network Adapter", SwitchName: s.SwitchName}}
}

// dvdDrives is the DVD drives the VM gets: DVDDrives when set, else what
// New-VM makes (generation 1: one at IDE 1:0; generation 2: none).
func (s VMSpec) dvdDrives() []Controller {
	if s.DVDDrives != nil {
		return s.DVDDrives
	}
	if s.Generation == 1 {
		return []Controller{defaultDVD}
	}
	return []Controller{}
}

// Switches lists the switches the spec's adapters connect to, once each.
func (s VMSpec) Switches() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range s.adapters() {
		k := strings.ToLower(a.SwitchName)
		if a.SwitchName != "" && !seen[k] {
			seen[k] = true
			out = append(out, a.SwitchName)
		}
	}
	return out
}

// validateShape checks adapters, memory, firmware and DVD drives.
func (s VMSpec) validateShape() []string {
	var p []string
	if len(s.Adapters) == 0 && strings.TrimSpace(s.SwitchName) == "" {
		p = append(p, "the switch name is empty")
	}
	for i, a := range s.Adapters {
		if a.MAC != "" && !validMAC(a.MAC) {
			p = append(p, fmt.Sprintf("adapter %d: MAC %q is not 12 hexadecimal digits", i, a.MAC))
		}
		switch a.VLAN.Mode {
		case "", "Untagged":
		case "Access":
			if a.VLAN.AccessID < 1 || a.VLAN.AccessID > 4094 {
				p = append(p, fmt.Sprintf("adapter %d: access VLAN %d is not 1-4094", i, a.VLAN.AccessID))
			}
		case "Trunk":
			if a.VLAN.Allowed == "" {
				p = append(p, fmt.Sprintf("adapter %d: a trunk needs its allowed VLANs", i))
			}
		default:
			p = append(p, fmt.Sprintf("adapter %d: VLAN mode %q cannot be reproduced (untagged, access and trunk can)", i, a.VLAN.Mode))
		}
	}
	if s.DynamicMemory && (s.MemoryMinimum > s.MemoryBytes || s.MemoryMaximum > 0 && s.MemoryMaximum < s.MemoryBytes) {
		p = append(p, "dynamic memory needs minimum <= startup <= maximum")
	}
	if s.Generation == 1 && (s.SecureBoot != "" || s.SecureBootTemplate != "") {
		p = append(p, "generation 1 VMs have no Secure Boot")
	}
	if s.SecureBoot != "" && s.SecureBoot != "On" && s.SecureBoot != "Off" {
		p = append(p, "Secure Boot is On or Off, not "+strconv.Quote(s.SecureBoot))
	}
	for _, d := range s.dvdDrives() {
		if s.Generation == 2 && d.Type != SCSI || d.Type != IDE && d.Type != SCSI {
			p = append(p, "DVD drive "+d.Slot()+": generation 2 VMs take DVD drives on SCSI only")
		}
		for i, disk := range s.Disks {
			if disk.Controller == d {
				p = append(p, fmt.Sprintf("disk %d: %s holds the VM's DVD drive (a generation 1 VM gets one at IDE 1:0 from New-VM): place the disk at IDE 0:0, 0:1 or 1:1, or on SCSI", i, d.Slot()))
			}
		}
	}
	return p
}

// Slot is the slot as Hyper-V Manager shows it ("IDE 1:0").
func (c Controller) Slot() string {
	return fmt.Sprintf("%s %d:%d", c.Type, c.Number, c.Location)
}

func validMAC(m string) bool {
	m = strings.NewReplacer("-", "", ":", "").Replace(m)
	if len(m) != 12 {
		return false
	}
	for _, c := range m {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// normMAC is a MAC as Hyper-V takes it: 12 upper-case hex digits.
func normMAC(m string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", ":", "").Replace(m))
}

// SpecFromVM is the shape of vm to reproduce elsewhere: generation,
// processors, memory (static or dynamic, with its bounds), every network
// adapter with its switch, static MAC and VLAN, the DVD drives, Secure
// Boot and its template, and its disks' slots (paths and sizes as they
// are; the caller moves them). A dynamic MAC is left for Hyper-V to
// assign; a private VLAN is not reproduced (see VLAN).
func SpecFromVM(vm VM) VMSpec {
	s := VMSpec{Name: vm.Name, Generation: vm.Generation, CPUCount: vm.CPUCount, MemoryBytes: vm.MemoryBytes,
		DynamicMemory: vm.DynamicMemory, SecureBoot: vm.SecureBoot, SecureBootTemplate: vm.SecureBootTemplate,
		DVDDrives: append([]Controller{}, vm.DVDDrives...)}
	if vm.DynamicMemory {
		s.MemoryMinimum, s.MemoryMaximum = vm.MemoryMinimum, vm.MemoryMaximum
	}
	if s.Generation != 2 {
		s.SecureBoot, s.SecureBootTemplate = "", ""
	}
	for _, a := range vm.Adapters {
		as := AdapterSpec{Name: a.Name, SwitchName: a.SwitchName}
		if a.StaticMAC {
			as.MAC = a.MAC
		}
		if a.VLAN.Mode == "Access" || a.VLAN.Mode == "Trunk" {
			as.VLAN = a.VLAN
		}
		s.Adapters = append(s.Adapters, as)
	}
	for _, d := range vm.Disks {
		s.Disks = append(s.Disks, DiskSpec{HostPath: d.HostPath, Controller: d.Controller, VirtualSize: d.VirtualSize, Fixed: d.Fixed})
	}
	return s
}

// NotReproduced lists what SpecFromVM leaves out of vm, for the operator
// to set by hand on the new VM.
func NotReproduced(vm VM) []string {
	var out []string
	for _, a := range vm.Adapters {
		if a.VLAN.Mode == "Private" {
			out = append(out, fmt.Sprintf("adapter %s: private VLAN (%s): set it with Set-VMNetworkAdapterVlan -VMName %s -VMNetworkAdapterName %s after the VM is created",
				psQuote(a.Name), a.VLAN.Private, psQuote(vm.Name), psQuote(a.Name)))
		}
	}
	return out
}

package workflow

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/failback/failback/hyperv"
)

// The pre-flight's checks of the on-premises VM as admins run it: its
// state (Saved and Paused resume memory older than the disks), its
// checkpoints (it runs from differencing disks whose parents are the
// images), the disks it really has attached, Hyper-V Replica and Azure
// Site Recovery, failover clusters, and the shape of a VM to create.

// psq quotes a name for a PowerShell command line in a fix.
func psq(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// savedOrPaused says whether a VM holds memory a start would resume.
func savedOrPaused(s hyperv.VMState) bool { return s == hyperv.StateSaved || s == hyperv.StatePaused }

// ownSaved says whether a disk is in use only by the target VM itself,
// Saved or Paused, whose state the operator chose to discard.
func ownSaved(p *prepared, t *target, use hyperv.DiskUse) bool {
	return p.choices.DiscardSavedState && t.existing != nil && savedOrPaused(t.existing.State) &&
		!use.Locked && len(use.VMs) == 1 && use.VMs[0] == t.vm.Name
}

// checkVMState checks the target VM is there (or to be created) and Off.
func (m *Manager) checkVMState(p *prepared, t *target, willCreate bool) {
	name, host := t.vm.Name, t.hostName
	what := "VM " + name + " is off on " + host
	switch {
	case t.existing == nil && willCreate:
		p.add(CheckRow{VM: name, What: "VM " + name + " on " + host, OK: true, Detail: "will be created"})
	case t.existing == nil:
		row := CheckRow{VM: name, What: "VM " + name + " on " + host, Detail: "not found",
			Fix:    "recreate it on " + host + ", or fail back to an alternate location with \"create the VM if missing\"",
			CLIFix: "recreate it on " + host + ", or fail back to an alternate location with --location alternate --host HOST --create-vm"}
		if t.hostName != t.vm.Host && t.node == "" {
			row.Fix = "choose \"create the on-premises VM if it does not exist\", or create it by hand"
			row.CLIFix = "add --create-vm, or create it by hand"
		}
		p.add(row)
	case t.existing.State == hyperv.StateOff:
		p.add(CheckRow{VM: name, What: what, OK: true, Detail: "off"})
	case savedOrPaused(t.existing.State) && p.choices.DiscardSavedState:
		p.add(CheckRow{VM: name, What: what, OK: true, Detail: fmt.Sprintf("%s: its memory state is discarded when the job starts (your choice), so it boots from the synchronised disks", t.existing.State)})
	case savedOrPaused(t.existing.State):
		by := "Remove-VMSavedState -VMName " + psq(name)
		if t.existing.State == hyperv.StatePaused {
			by = "Stop-VM -Name " + psq(name) + " -TurnOff"
		}
		p.add(CheckRow{VM: name, What: what, Detail: fmt.Sprintf("it is %s: started after the failback it would resume memory older than its disks", t.existing.State),
			Fix:    "choose \"discard the saved state of Saved or Paused VMs\" (the job turns it off when it starts), or discard it on " + host + ": " + by,
			CLIFix: "add --discard-saved-state (the job turns it off when it starts), or discard it on " + host + ": " + by})
	default:
		p.add(CheckRow{VM: name, What: what, Detail: "it is " + string(t.existing.State),
			Fix: "shut it down on " + host + " (Stop-VM -Name " + psq(name) + "): its disks are about to be overwritten"})
	}
}

// checkAsAdminsRunIt checks checkpoints, the attached disks, replication,
// Site Recovery and the cluster.
func (m *Manager) checkAsAdminsRunIt(ctx context.Context, p *prepared, t *target) {
	name, host := t.vm.Name, t.hostName
	vm := t.existing
	if t.infoErr != nil {
		p.add(CheckRow{VM: name, What: "what " + host + " is", OK: true, Warning: true, Detail: t.infoErr.Error(),
			Fix: "failback could not tell whether " + host + " is a cluster node or registered with a Recovery Services vault; check that by hand"})
	}
	if vm != nil && len(vm.Checkpoints) > 0 {
		var names []string
		for _, c := range vm.Checkpoints {
			names = append(names, psq(c.Name))
		}
		p.add(CheckRow{VM: name, What: "no checkpoints of VM " + name,
			Detail: fmt.Sprintf("%d checkpoint(s) (%s): the VM runs from differencing disks (.avhdx), and writing their parents would break the chain so that it no longer starts", len(vm.Checkpoints), strings.Join(names, ", ")),
			Fix: fmt.Sprintf("on %s, delete them, which merges each into its parent: Get-VMCheckpoint -VMName %s | Remove-VMCheckpoint; wait until the merge ends (Get-VM -Name %s shows no Merging status), then run the pre-flight again",
				host, psq(name), psq(name))})
	} else if vm != nil && (t.hostName == t.vm.Host || t.node != "") {
		m.checkAttached(p, t)
	}
	orig := vm
	if t.hostName != t.vm.Host && t.node == "" {
		if o, err := m.originalVM(ctx, t); err == nil {
			orig = &o
		}
	}
	if orig != nil && orig.Replication != nil {
		r := orig.Replication
		p.add(CheckRow{VM: name, What: "replication of VM " + name, OK: true, Warning: true,
			Detail: fmt.Sprintf("Hyper-V Replica (or Azure Site Recovery through it): %s, %s to %s, %s", r.Mode, r.State, r.ReplicaServer, r.Health),
			Fix: fmt.Sprintf("before: suspend it (Suspend-VMReplication -VMName %s), or disable replication of this VM in the Recovery Services vault that protects it, so that nothing replicates or fails over while its disks are rewritten; "+
				"after Commit: resynchronise it (Resume-VMReplication -VMName %s -Resynchronize) or enable protection in the vault again: failback writes the disks outside Hyper-V Replica's change tracking", psq(name), psq(name))})
	}
	if t.info.SiteRecovery != "" {
		p.add(CheckRow{VM: name, What: host + " and Azure Site Recovery", OK: true, Warning: true,
			Detail: host + " is registered with an Azure Recovery Services vault (" + t.info.SiteRecovery + ")",
			Fix: "before: if " + name + " came to Azure through a Site Recovery failover, its item in the vault is still failed over: run neither the vault's failback (planned failover) nor its commit for it while failback works; " +
				"after Commit: disable replication of that item in the vault, then enable replication from " + host + " again if the VM must stay protected"})
	}
	if vm != nil && vm.Clustered {
		p.add(CheckRow{VM: name, What: "cluster " + t.info.Cluster, OK: true, Detail: "VM " + name + " is a role on node " + vm.Node + "; it stays one"})
	}
}

// checkAttached refuses a configured image that is not the disk the VM
// has attached (a moved or renamed file, or a checkpoint's child).
func (m *Manager) checkAttached(p *prepared, t *target) {
	var have []string
	for _, d := range t.existing.Disks {
		have = append(have, d.HostPath+" at "+d.Controller.Slot())
	}
	for _, d := range t.disks {
		attached := slices.ContainsFunc(t.existing.Disks, func(a hyperv.Disk) bool { return strings.EqualFold(a.HostPath, d.image) })
		if attached {
			continue
		}
		p.add(CheckRow{VM: t.vm.Name, What: "image " + d.image + " attached to " + t.vm.Name,
			Detail: "the VM does not have it attached (it has " + strings.Join(have, ", ") + ")",
			Fix:    "set image in the [[vm.disk]] of config.toml to the file the VM has attached, or attach " + d.image + " to the VM on " + t.hostName + " (Add-VMHardDiskDrive)"})
	}
}

// placeRows says, for a VM at an alternate location, what the VM to
// create looks like and whether the host has each of its switches, and
// whether it will be highly available on a cluster.
func (m *Manager) placeRows(ctx context.Context, p *prepared, t *target, spec hyperv.VMSpec, rep hyperv.Report) {
	name, host := t.vm.Name, t.hostName
	if t.existing == nil && t.create {
		p.add(CheckRow{VM: name, What: "VM to create on " + host, OK: true, Detail: describeSpec(spec)})
		orig, err := m.originalVM(ctx, t)
		if err != nil {
			p.add(CheckRow{VM: name, What: "shape of the original VM", OK: true, Warning: true, Detail: "not readable: " + err.Error(),
				Fix: "the VM is created from config.toml alone: one adapter on its switch, no VLAN, static MAC or Secure Boot setting; set them by hand after the failback if the original had them"})
		}
		for _, n := range hyperv.NotReproduced(orig) {
			p.add(CheckRow{VM: name, What: "not reproduced", OK: true, Warning: true, Detail: n, Fix: "set it by hand once the VM is created"})
		}
	}
	var hostSwitches []string
	if sw, err := t.api.ListSwitches(ctx); err == nil {
		for _, s := range sw {
			hostSwitches = append(hostSwitches, s.Name)
		}
	}
	p.switches = hostSwitches
	from := map[string]string{}
	for o, to := range p.choices.SwitchMap {
		from[strings.ToLower(to)] = o
	}
	for _, sw := range spec.Switches() {
		row := CheckRow{VM: name, What: "switch " + sw + " on " + host, OK: true, Detail: "present"}
		if o, ok := from[strings.ToLower(sw)]; ok {
			row.What, row.Detail = "switch "+o+" on "+host, "mapped to "+sw+" (your choice)"
		}
		if slices.Contains(rep.Missing, sw) {
			row.OK, row.Detail = false, "missing ("+host+" has "+orNone(hostSwitches)+")"
			row.Fix = "map it to a switch " + host + " has (location page), or create it: " + hyperv.SwitchAdvice(sw)
			row.CLIFix = "add --map-switch " + sw + "=SWITCH with a switch " + host + " has, or create it: " + hyperv.SwitchAdvice(sw)
			if !slices.Contains(p.missing, sw) {
				p.missing = append(p.missing, sw)
			}
		}
		p.add(row)
	}
	if t.existing != nil || !t.create || t.info.Cluster == "" {
		return
	}
	if spec.HighlyAvailable {
		p.add(CheckRow{VM: name, What: "highly available on cluster " + t.info.Cluster, OK: true,
			Detail: "its files are on cluster shared volumes: it becomes a cluster role (Add-ClusterVirtualMachineRole) once created"})
		return
	}
	p.add(CheckRow{VM: name, What: "highly available on cluster " + t.info.Cluster, OK: true, Warning: true,
		Detail: "no: its folder or disks are not on a cluster shared volume (" + orNone(t.info.CSVs) + "), so it would run on " + host + " only",
		Fix:    "to make it a cluster role, set vm_folder of the [[host]] (and any alternate_folder) to a path on a cluster shared volume, such as " + firstOr(t.info.CSVs, `C:\ClusterStorage\Volume1`) + `\Hyper-V`})
}

// describeSpec is the VM to create in one line.
func describeSpec(s hyperv.VMSpec) string {
	mem := bytesText(s.MemoryBytes)
	if s.DynamicMemory {
		mem += fmt.Sprintf(" dynamic (%s to %s)", bytesText(s.MemoryMinimum), bytesText(s.MemoryMaximum))
	}
	var nics []string
	for _, a := range s.Adapters {
		n := orDefault(a.SwitchName, "not connected")
		if a.VLAN.Mode != "" {
			n += " " + a.VLAN.String()
		}
		if a.MAC != "" {
			n += " MAC " + a.MAC
		}
		nics = append(nics, n)
	}
	var slots []string
	for _, d := range s.Disks {
		slots = append(slots, d.Controller.Slot())
	}
	out := fmt.Sprintf("generation %d, %d CPUs, %s, adapters: %s; disks at %s", s.Generation, s.CPUCount, mem, orNone(nics), strings.Join(slots, ", "))
	for _, d := range s.DVDDrives {
		out += "; DVD drive at " + d.Slot()
	}
	if s.SecureBoot != "" {
		out += "; Secure Boot " + s.SecureBoot
		if s.SecureBootTemplate != "" {
			out += " (" + s.SecureBootTemplate + ")"
		}
	}
	return out
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func firstOr(l []string, d string) string {
	if len(l) > 0 {
		return l[0]
	}
	return d
}

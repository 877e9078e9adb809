package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/units"
)

// prepared is a checked choice: the report, and when it passed, what a
// job is made of.
type prepared struct {
	title   string
	targets []*target
	rep     PreflightReport
	// per target, per disk: the opened Azure disk (nil when it failed).
	disks     [][]azure.VMDisk
	encrypted []crypt.Disk
	unlocked  *crypt.Unlocked
	alternate bool
	choices   Choices
	// missing are switches an alternate host lacks; switches what it has.
	missing, switches []string
	// movers says, per host, whether its mover answered (checkMover).
	movers map[string]bool
	// committed maps VMs a committed job brought back to its id.
	committed map[string]string
	// test is a test failback's plan (testfailback_prep.go).
	test *testPlan
}

func (p *prepared) add(r CheckRow) {
	p.rep.Checks = append(p.rep.Checks, r)
	if !r.OK {
		p.rep.OK = false
	}
}

// Preflight implements Service. It changes nothing anywhere.
func (m *Manager) Preflight(ctx context.Context, c Choices) (PreflightReport, error) {
	p, err := m.prepare(ctx, c)
	if err != nil {
		return PreflightReport{}, err
	}
	if p.unlocked != nil {
		p.unlocked.Destroy()
	}
	return p.rep, nil
}

// prepare runs every check of every VM and collects all problems.
func (m *Manager) prepare(ctx context.Context, c Choices) (*prepared, error) {
	if c.Sync != SyncDelta && c.Sync != SyncFull {
		return nil, fmt.Errorf("choose the sync option %q or %q", SyncDelta, SyncFull)
	}
	title, ts, err := m.resolve(ctx, c)
	if err != nil {
		return nil, err
	}
	p := &prepared{title: title, targets: ts, rep: PreflightReport{OK: true, Checks: []CheckRow{}}, alternate: c.Location == LocAlternate, choices: c}
	if bs := m.cfg.Engine.BlockSize.Bytes(); bs != 0 && config.BlockSizeProblem(bs) != "" {
		p.add(CheckRow{What: "engine block size", Detail: "block_size = " + bytesText(bs) + " " + config.BlockSizeProblem(bs),
			Fix: "in [engine] of config.toml, " + config.BlockSizeFix + " ('failback config check' applies the same rule)"})
	}
	busy := m.busyVMs()
	p.committed = m.committedVMs()
	for _, t := range ts {
		if id := busy[t.vm.Name]; id != "" {
			p.add(CheckRow{VM: t.vm.Name, What: "no other job", Detail: "job " + id + " is failing this VM back",
				Fix: "finish (commit), cancel or undo job " + id + " first"})
		}
		p.disks = append(p.disks, m.checkAzure(ctx, p, t))
	}
	for i, t := range ts {
		m.checkHost(ctx, p, t, p.disks[i])
	}
	m.checkRoom(ctx, p, c.Sync == SyncFull)
	m.checkCert(ctx, p, c)
	if c.Test {
		m.checkTest(ctx, p)
	}
	return p, nil
}

// committedVMs maps each VM of a committed job (or one replicating in
// reverse) to the newest such job's id: it already runs on premises.
func (m *Manager) committedVMs() map[string]string {
	out := map[string]string{}
	for _, j := range m.sortedJobs() { // newest first
		r := j.snap()
		if r.State != StateCommitted && r.State != StateReverse && r.Flow != flowReverse {
			continue
		}
		for _, v := range r.VMs {
			if out[v.Name] == "" {
				out[v.Name] = r.ID
			}
		}
	}
	return out
}

// busyVMs maps each VM of a job that is not over to that job's id.
func (m *Manager) busyVMs() map[string]string {
	out := map[string]string{}
	for _, j := range m.sortedJobs() {
		r := j.snap()
		if r.State.Final() || r.State == StateCommitted {
			continue
		}
		for _, v := range r.VMs {
			out[v.Name] = r.ID
		}
	}
	return out
}

// checkAzure checks the Azure VM, that its disks are the configured
// ones, and each disk.
func (m *Manager) checkAzure(ctx context.Context, p *prepared, t *target) []azure.VMDisk {
	name := t.vm.Name
	st, err := m.deps.Compute.State(ctx, t.az.ref)
	row := CheckRow{VM: name, What: "Azure VM " + t.az.ref.String(), OK: err == nil, Detail: string(st)}
	if err != nil {
		row.Detail = err.Error()
		row.Fix = "check azure_vm in config.toml (the VM's name in Azure), the resource group and the Azure credentials"
		if id := p.committed[name]; id != "" {
			row.Detail = "already failed back by job " + id + " (committed, which deleted the Azure VM): " + err.Error()
			row.Fix = "nothing to do: job " + id + " already brought it back ('failback status " + id + "')"
		}
	}
	p.add(row)
	m.checkProfile(p, t)
	var disks []azure.VMDisk
	for k, d := range t.disks {
		if d.ref.Kind == "" {
			disks = append(disks, nil) // not in the storage profile: checkProfile said so
			continue
		}
		row := CheckRow{VM: name, What: diskWhat(d)}
		disk, err := m.openDisk(ctx, d.ref)
		disks = append(disks, disk)
		if err != nil {
			row.Detail = err.Error()
			switch {
			case errors.Is(err, azure.ErrNotPageBlob):
				row.Fix = "only unmanaged disks (page blobs holding a fixed VHD) can be failed back; managed disks are out of scope: export the managed disk to a page blob first"
			case errors.Is(err, azure.ErrNotFound):
				row.Fix = "check blob = \"container/name.vhd\" for this disk in config.toml"
			default:
				row.Fix = fixFor(err, "check the storage account settings in config.toml [azure.storage]")
			}
			p.add(row)
			continue
		}
		m.learnDisk(t.vm, k, disk)
		row.OK, row.Detail = true, disk.Describe()
		if err := disk.Problem(); err != nil {
			row.OK, row.Detail, row.Fix = false, err.Error(), "see the message: the disk's snapshots cannot be read as it is set up"
		}
		p.add(row)
		md, err := disk.Metadata(ctx)
		if err == nil {
			meta, merr := crypt.ParseMetaStrings(md)
			switch {
			case merr == nil:
				p.encrypted = append(p.encrypted, crypt.Disk{Name: cryptName(name, d.ref), Meta: meta})
			case !errors.Is(merr, crypt.ErrNotEncrypted):
				err = merr
			}
		}
		if err != nil {
			p.add(CheckRow{VM: name, What: "encryption metadata of " + d.ref.String(), Detail: err.Error(),
				Fix: "the blob's failbackenc* metadata is damaged or from a newer failback: restore it, or use the failback version that wrote it"})
		}
	}
	return disks
}

// checkHost checks the target host, the VM there and each target image.
func (m *Manager) checkHost(ctx context.Context, p *prepared, t *target, disks []azure.VMDisk) {
	name, host := t.vm.Name, t.hostName
	if t.apiErr != nil || t.getErr != nil {
		err := t.apiErr
		if err == nil {
			err = t.getErr
		}
		row := CheckRow{VM: name, What: "host " + host + " reachable", Detail: err.Error(),
			Fix: fixFor(err, "check the [[host]] entry of "+host+" (address, credentials, known_hosts) and that the host is up")}
		var he *hyperv.HostError
		if errors.Is(err, hyperv.ErrVMOnOtherNode) && errors.As(err, &he) {
			row.What = "VM " + name + " on " + host
			row.Fix = fmt.Sprintf("add a [[host]] for cluster node %s to config.toml (its path_map as %s's: the cluster shared volumes have the same paths on every node), or move the VM here: Move-ClusterVirtualMachineRole -Name %s -Node %s",
				he.Target, host, psq(name), t.info.Computer)
		}
		p.add(row)
		return
	}
	detail := t.api.Describe()
	if t.node != "" {
		detail += "; the VM's cluster node (" + t.vm.Host + " is another node of cluster " + t.info.Cluster + ")"
	}
	p.add(CheckRow{VM: name, What: "host " + host + " reachable", OK: true, Detail: detail})
	if host == t.vm.Host && p.alternate {
		p.add(CheckRow{VM: name, What: "alternate location", Detail: host + " is the VM's original host",
			Fix:    "fail back to the original location, or choose another host",
			CLIFix: "fail back to the original location (--location original), or choose another host (--host HOST)"})
		return
	}
	willCreate := t.existing == nil && t.create
	if id := p.committed[name]; id != "" && t.existing != nil && t.existing.State != hyperv.StateOff {
		// It runs on premises because a committed job brought it back:
		// there is nothing to fail back, and stopping it would be an outage.
		p.add(CheckRow{VM: name, What: "VM " + name + " is off on " + host, Detail: "already failed back by job " + id + " (committed): it runs on " + host,
			Fix: "nothing to do: job " + id + " already brought it back ('failback status " + id + "')"})
	} else {
		m.checkVMState(p, t, willCreate)
	}
	m.checkAsAdminsRunIt(ctx, p, t)
	sizes := make([]int64, len(t.disks))
	for i, d := range disks {
		if d != nil {
			sizes[i] = d.Size()
		}
	}
	if t.hostName != t.vm.Host || willCreate {
		m.checkPlace(ctx, p, t, sizes)
	}
	if t.existing != nil && len(t.existing.Disks) != len(t.disks) && t.hostName != t.vm.Host {
		p.add(CheckRow{VM: name, What: "disks of the VM on " + host, Detail: fmt.Sprintf("it has %d disks, the Azure VM %d", len(t.existing.Disks), len(t.disks)),
			Fix: "remove or rename the VM on " + host + ", or fail back to another host"})
	}
	if !m.checkMover(ctx, p, t, disks) {
		return // every image check would ask it
	}
	for i, d := range t.disks {
		m.checkImage(ctx, p, t, d, sizes[i], willCreate)
	}
}

// checkPlace runs CheckAlternate: the switch and the room at the target.
func (m *Manager) checkPlace(ctx context.Context, p *prepared, t *target, sizes []int64) {
	name := t.vm.Name
	spec, err := m.vmSpec(ctx, t, sizes, p.choices)
	if err != nil {
		p.add(CheckRow{VM: name, What: "shape of the VM to create", Detail: err.Error(), Fix: "set generation, cpus and memory in the [[vm]] entry of " + name})
		return
	}
	rep, err := hyperv.CheckAlternate(ctx, t.api, spec, hyperv.CheckOptions{})
	if err != nil && len(rep.Problems) == 0 {
		p.add(CheckRow{VM: name, What: "location on " + t.hostName, Detail: err.Error(), Fix: fixFor(err, "check the host "+t.hostName)})
		return
	}
	m.placeRows(ctx, p, t, spec, rep)
	for _, v := range rep.Volumes {
		row := CheckRow{VM: name, What: "room on " + v.Volume + " (" + v.Folder + ")", OK: v.OK,
			Detail: fmt.Sprintf("need %s, %s free", bytesText(v.Need), bytesText(v.Free))}
		if !v.OK {
			row.Fix = fmt.Sprintf("free %s on %s, or set another alternate_folder for the disks", bytesText(v.Need-v.Free), v.Volume)
		}
		p.add(row)
	}
	if rep.VMExists && rep.Existing != nil && rep.Existing.Generation != spec.Generation {
		p.add(CheckRow{VM: name, What: "VM generation on " + t.hostName, Detail: fmt.Sprintf("generation %d there, %d wanted", rep.Existing.Generation, spec.Generation),
			Fix: "remove or rename the VM on " + t.hostName + ", or fail back to another host"})
	}
}

// checkImage checks one target image: mapped, present with the blob's
// size (or to be created), and not in use.
func (m *Manager) checkImage(ctx context.Context, p *prepared, t *target, d targetDisk, size int64, willCreate bool) {
	name := t.vm.Name
	what := "image " + d.image
	if !d.reachable(t) {
		p.add(CheckRow{VM: name, What: what, Detail: "no path_map of " + t.hostName + " covers it",
			Fix: "add a [[host.path_map]] to " + t.hostName + " mapping the folder of " + d.image + " to where it is mounted here, or let the host's mover write it (data_path = \"mover\")"})
		return
	}
	where := d.local
	if t.usesMover() {
		where = "on " + t.hostName
	}
	im, err := m.inspect(ctx, t, d, false, true)
	if err != nil {
		p.add(CheckRow{VM: name, What: what, Detail: err.Error(), Fix: fixFor(err, "check the mover on "+t.hostName+" (failback mover check --host "+t.hostName+")")})
		return
	}
	if !im.Exists {
		if willCreate {
			p.add(CheckRow{VM: name, What: what, OK: true, Detail: "will be created (VHDX, " + bytesText(size) + ")"})
			return
		}
		p.add(CheckRow{VM: name, What: what, Detail: "missing (" + where + ")",
			Fix:    "restore the image, or fail back to an alternate location with \"create the VM if missing\"",
			CLIFix: "restore the image, or fail back to an alternate location with --location alternate --host HOST --create-vm"})
		return
	}
	if im.Info == nil {
		row := CheckRow{VM: name, What: what, Detail: im.Problem, Fix: "check the image file " + where + " (failback image info)"}
		if im.Corrupt {
			// Never written as raw bytes: the VM would not boot from it.
			row.Fix = "restore " + d.image + " from a backup, or check it on " + t.hostName + " with Test-VHD and Repair-VHD, then run the pre-flight again"
		}
		p.add(row)
		return
	}
	info := *im.Info
	if size > 0 && info.VirtualSize != size {
		p.add(CheckRow{VM: name, What: what, Detail: fmt.Sprintf("virtual size %s, the Azure disk has %s", bytesText(info.VirtualSize), bytesText(size)),
			Fix:    fmt.Sprintf("resize the image to %d bytes (Resize-VHD -SizeBytes %d), or fail back to an alternate location with \"create the VM if missing\"", size, size),
			CLIFix: fmt.Sprintf("resize the image to %d bytes (Resize-VHD -SizeBytes %d), or fail back to an alternate location with --location alternate --host HOST --create-vm", size, size)})
		return
	}
	p.add(CheckRow{VM: name, What: what, OK: true, Detail: fmt.Sprintf("%s %s", info.Format, bytesText(info.VirtualSize))})
	use, err := t.api.DiskInUse(ctx, d.image)
	// A Saved or Paused VM holds its own disks until the job discards its
	// state, as the operator chose, before anything is written.
	if err == nil && use.InUse && ownSaved(p, t, use) {
		p.add(CheckRow{VM: name, What: "image " + hostBase(d.image) + " not in use", OK: true,
			Detail: "held by " + name + ", " + string(t.existing.State) + ", until the job discards its state when it starts"})
		return
	}
	row := CheckRow{VM: name, What: "image " + hostBase(d.image) + " not in use", OK: err == nil && !use.InUse && im.LockProblem == "", Detail: "free"}
	switch {
	case err != nil:
		row.Detail, row.Fix = err.Error(), fixFor(err, "stop whatever writes "+d.image)
	case use.InUse:
		row.Detail, row.Fix = use.Reason, "shut down the VMs using it, or stop the program that has it open"
	case im.LockProblem != "":
		row.Detail, row.Fix = im.LockProblem, im.LockHint
		if row.Fix == "" {
			row.Fix = "stop whatever writes " + d.image
		}
	}
	p.add(row)
}

// checkCert unlocks the encrypted disks with the chosen certificate.
func (m *Manager) checkCert(ctx context.Context, p *prepared, c Choices) {
	if len(p.encrypted) == 0 {
		return
	}
	need := map[string]bool{}
	for _, d := range p.encrypted {
		need[d.Meta.Thumbprint] = true
	}
	switch {
	case c.CertThumbprint == "":
		p.add(CheckRow{What: "certificate", Detail: fmt.Sprintf("%d disk(s) are encrypted", len(p.encrypted)),
			Fix:    "choose the certificate that unlocks them",
			CLIFix: "choose the certificate that unlocks them with --cert THUMBPRINT ('failback certificates' lists them)"})
		return
	case m.deps.Certs == nil:
		p.add(CheckRow{What: "certificate", Detail: "no certificate store", Fix: "set certificates_dir in config.toml"})
		return
	}
	u, err := crypt.CheckCertificate(ctx, m.deps.Certs, crypt.Check{Thumbprint: c.CertThumbprint, Disks: p.encrypted,
		Now: m.now(), AllowExpired: c.AllowExpiredCert})
	if err != nil {
		for _, e := range splitErrors(err) {
			fix, cliFix := certFix(e, c.CertThumbprint)
			p.add(CheckRow{What: "certificate " + c.CertThumbprint, Detail: e.Error(), Fix: fix, CLIFix: cliFix})
		}
		return
	}
	p.unlocked = u
	p.add(CheckRow{What: "certificate " + c.CertThumbprint, OK: true, Detail: fmt.Sprintf("unlocks all %d encrypted disk(s)", len(p.encrypted))})
}

// bytesText writes n as failback writes sizes everywhere (units.Bytes).
func bytesText(n int64) string { return units.Bytes(n) }

package workflow

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/hyperv"
)

// target is where one VM of a choice lands.
type target struct {
	vm       *config.VM
	group    int
	hostName string
	hc       *config.Host
	api      hyperv.Host
	apiErr   error
	existing *hyperv.VM // the VM at the target, when it exists
	getErr   error      // GetVM's error other than "not found"
	info     hyperv.HostInfo
	infoErr  error
	// node is the cluster node that owns the VM when the configured host
	// is another node of its cluster (hostName is then the node's [[host]]).
	node   string
	create bool
	az     azureVM // the Azure VM and its disks
	disks  []targetDisk
}

// targetDisk is one disk of a target.
type targetDisk struct {
	cfg     config.Disk
	ref     azure.DiskRef // the Azure disk
	image   string        // as the host names it
	local   string
	localOK bool
}

// checkChoices refuses choices no job can be made of. The sync option is
// not needed yet: the console checks the location and asks for estimates
// before the operator chooses it (prepare checks it).
func (m *Manager) checkChoices(c Choices) error {
	switch {
	case c.Plan == "" && c.VM == "":
		return errors.New("choose a recovery plan or one VM")
	case c.Plan != "" && c.VM != "":
		return errors.New("choose a recovery plan or one VM, not both")
	case c.Direction != DirAzureToOnPrem:
		return fmt.Errorf("confirm the direction %q (Azure to on-premises); %q is not one", DirAzureToOnPrem, c.Direction)
	case c.Sync != "" && c.Sync != SyncDelta && c.Sync != SyncFull:
		return fmt.Errorf("choose the sync option %q or %q", SyncDelta, SyncFull)
	case c.Location != "" && c.Location != LocOriginal && c.Location != LocAlternate:
		return fmt.Errorf("location %q: choose %q or %q", c.Location, LocOriginal, LocAlternate)
	case c.Location == LocAlternate && c.AltHost == "":
		return errors.New("an alternate location needs a host: choose one")
	case c.Location == LocAlternate && m.cfg.Host(c.AltHost) == nil:
		return fmt.Errorf("no [[host]] named %q: choose one of config.toml's hosts", c.AltHost)
	}
	return m.checkTestChoices(c)
}

// members lists the VMs of a choice with their plan groups (from 1).
func (m *Manager) members(c Choices) (string, []*config.VM, []int, error) {
	if c.VM != "" {
		vm := m.cfg.VM(c.VM)
		if vm == nil {
			return "", nil, nil, fmt.Errorf("no [[vm]] named %q in %s", c.VM, m.cfg.File)
		}
		return vm.Name, []*config.VM{vm}, []int{1}, nil
	}
	p := m.cfg.Plan(c.Plan)
	if p == nil {
		return "", nil, nil, fmt.Errorf("no [[plan]] named %q in %s", c.Plan, m.cfg.File)
	}
	var vms []*config.VM
	var groups []int
	for g, names := range p.Groups {
		for _, n := range names {
			if vm := m.cfg.VM(n); vm != nil {
				vms, groups = append(vms, vm), append(groups, g+1)
			}
		}
	}
	return p.Name, vms, groups, nil
}

// resolve finds where each VM of the choice lands. It asks the target
// hosts whether the VM exists (an existing VM's own disks are the targets
// at an alternate location) but changes nothing.
func (m *Manager) resolve(ctx context.Context, c Choices) (string, []*target, error) {
	if err := m.checkChoices(c); err != nil {
		return "", nil, err
	}
	title, vms, groups, err := m.members(c)
	if err != nil {
		return "", nil, err
	}
	alt := c.Location == LocAlternate
	var ts []*target
	infos := map[string]hostInfo{}
	for i, vm := range vms {
		t := &target{vm: vm, group: groups[i], hostName: vm.Host, create: c.CreateVM}
		if alt {
			t.hostName = c.AltHost
		}
		t.api, t.hc, t.apiErr = m.host(t.hostName)
		m.findVM(ctx, t, infos)
		t.az = m.inspectVM(ctx, vm)
		for k, d := range vm.Disks {
			td := targetDisk{cfg: d, ref: t.az.refs[k], image: d.Image}
			if alt && t.hc != nil {
				td.image = altImage(t.hc, vm, d)
				if t.existing != nil && k < len(t.existing.Disks) {
					td.image = t.existing.Disks[k].HostPath
				}
			}
			if t.hc != nil {
				td.local, td.localOK = t.hc.LocalPath(td.image)
			}
			t.disks = append(t.disks, td)
		}
		ts = append(ts, t)
	}
	return title, ts, nil
}

// findVM asks the target host for the VM and what the host is. A VM that
// another node of the host's failover cluster owns is looked for on that
// node when config.toml has a [[host]] for it.
func (m *Manager) findVM(ctx context.Context, t *target, infos map[string]hostInfo) {
	if t.api == nil {
		return
	}
	info := func(name string, api hyperv.Host) {
		hi, ok := infos[name]
		if !ok {
			hi.info, hi.err = api.Info(ctx)
			infos[name] = hi
		}
		t.info, t.infoErr = hi.info, hi.err
	}
	info(t.hostName, t.api)
	got, err := t.api.GetVM(ctx, t.vm.Name)
	var he *hyperv.HostError
	if errors.Is(err, hyperv.ErrVMOnOtherNode) && errors.As(err, &he) {
		if hc := m.hostForNode(he.Target); hc != nil && hc.Name != t.hostName {
			api, hcfg, herr := m.host(hc.Name)
			if herr == nil {
				t.node, t.hostName, t.api, t.hc = he.Target, hc.Name, api, hcfg
				info(hc.Name, api)
				got, err = api.GetVM(ctx, t.vm.Name)
			}
		}
	}
	switch {
	case err == nil:
		t.existing = &got
	case !errors.Is(err, hyperv.ErrVMNotFound):
		t.getErr = err
	}
}

// hostInfo is a host's answer to Info, asked once per resolve.
type hostInfo struct {
	info hyperv.HostInfo
	err  error
}

// hostForNode is the [[host]] of a cluster node: named like it, or
// addressed by its name (hv02, hv02.example.com, hv02:22).
func (m *Manager) hostForNode(node string) *config.Host {
	for i := range m.cfg.Hosts {
		h := &m.cfg.Hosts[i]
		addr := h.Address
		if i := strings.LastIndex(addr, ":"); i > 0 && !strings.Contains(addr[:i], ":") {
			addr = addr[:i]
		}
		label, _, _ := strings.Cut(addr, ".")
		if strings.EqualFold(h.Name, node) || strings.EqualFold(addr, node) || strings.EqualFold(label, node) {
			return h
		}
	}
	return nil
}

// altImage is a disk's image at an alternate host: the disk's
// alternate_folder, else the host's vm_folder\<vm>, with the original's
// file name as VHDX (the format Hyper-V creates by default).
func altImage(hc *config.Host, vm *config.VM, d config.Disk) string {
	folder := d.AlternateFolder
	if folder == "" {
		folder = joinHost(hc.VMFolder, vm.Name)
	}
	base := hostBase(d.Image)
	if i := strings.LastIndex(base, "."); i > 0 {
		base = base[:i]
	}
	return joinHost(folder, base+".vhdx")
}

// windowsStyle reports whether a host path is a Windows one.
func windowsStyle(p string) bool {
	return strings.Contains(p, `\`) || len(p) >= 2 && p[1] == ':'
}

// joinHost joins host path elements in the host's own style.
func joinHost(dir, name string) string {
	if dir == "" {
		return name
	}
	if windowsStyle(dir) {
		return strings.TrimRight(dir, `\/`) + `\` + name
	}
	return path.Join(dir, name)
}

// hostBase is a host path's last element.
func hostBase(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

package workflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/failback/failback/config"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
)

// The pre-flight of a test failback and the records it makes: where each
// test disk, test VM and test switch goes.

// testPlan is what a passed test pre-flight decided, per target.
type testPlan struct {
	vms      []testPlanVM
	switches []testSwitch
}

// testPlanVM is one VM's test: its host and disks.
type testPlanVM struct {
	host  string // config name of the test host
	disks []testDiskRecord
}

// checkTestChoices refuses the choices no test failback can be made of.
func (m *Manager) checkTestChoices(c Choices) error {
	if !c.Test {
		if c.TestHost != "" || c.TestSwitch != "" || c.TestCopy {
			return errors.New("a test host, test switch or test copy goes with a test failback only: choose the test failback (--test), or leave them out")
		}
		return nil
	}
	switch {
	case c.Location == LocAlternate:
		return errors.New("a test failback reads the VMs' own disks where they are: keep the original location, and choose where the test VMs run with the test host (--host)")
	case c.Sync == SyncFull:
		return errors.New("a test failback synchronises by checksums while the Azure VMs keep running; a full download would shut them down: choose the test failback alone (sync delta)")
	case c.CreateVM || c.DiscardSavedState || len(c.SwitchMap) > 0:
		return errors.New("creating the on-premises VM, discarding its saved state and mapping switches change on-premises VMs, which a test failback never does: leave them out")
	case c.TestHost != "" && m.cfg.Host(c.TestHost) == nil:
		return fmt.Errorf("no [[host]] named %q to run the test VMs on: choose one of config.toml's hosts", c.TestHost)
	case c.TestSwitch != "" && (strings.TrimSpace(c.TestSwitch) != c.TestSwitch || strings.ContainsAny(c.TestSwitch, "\x00\r\n")):
		return fmt.Errorf("test switch %q: give a switch name without leading or trailing spaces or line breaks", c.TestSwitch)
	}
	return nil
}

// checkTest adds the test failback's rows to a pre-flight: per VM the
// test host, the test VM's name, each test disk and the room for it, the
// isolated switch per host, and the checks after start.
func (m *Manager) checkTest(ctx context.Context, p *prepared) {
	c := p.choices
	p.test = &testPlan{}
	switchName := c.TestSwitch
	if switchName == "" {
		switchName = testName(p.title)
	}
	needs := map[string]int64{} // test host + folder -> bytes the copies need
	for _, t := range p.targets {
		name := t.vm.Name
		host := c.TestHost
		if host == "" {
			host = t.hostName
		}
		pv := testPlanVM{host: host}
		p.add(CheckRow{VM: name, What: "Azure VM " + t.az.ref.String() + " keeps running", OK: true,
			Detail: "a test failback never shuts it down and never writes " + name + "'s disks on premises: it writes test disks"})
		api, hc, err := m.host(host)
		if err != nil {
			p.add(CheckRow{VM: name, What: "test host " + host, Detail: err.Error(), Fix: "check the [[host]] entry of " + host})
			p.test.vms = append(p.test.vms, pv)
			continue
		}
		th, ok := api.(hyperv.TestHost)
		if !ok {
			p.add(CheckRow{VM: name, What: "test host " + host, Detail: api.Describe() + " cannot run test VMs", Fix: "choose another host for the test VMs"})
			p.test.vms = append(p.test.vms, pv)
			continue
		}
		m.checkTestVMName(ctx, p, name, host, th)
		for _, d := range t.disks {
			td, row := m.planTestDisk(ctx, t, d, host, hc, p.title, c.TestCopy)
			if !row.OK {
				p.add(row)
				continue
			}
			p.add(row)
			pv.disks = append(pv.disks, td)
			if td.Mode == testCopy {
				needs[host+"\x00"+td.Folder] += m.allocatedOf(ctx, t, d)
			}
		}
		p.test.vms = append(p.test.vms, pv)
		k := slices.IndexFunc(p.test.switches, func(s testSwitch) bool { return s.Host == host })
		if k < 0 {
			p.test.switches = append(p.test.switches, m.checkTestSwitch(ctx, p, host, th, switchName))
			k = len(p.test.switches) - 1
		}
		m.checkTestPorts(p, t.vm, p.test.switches[k])
	}
	for k, need := range needs {
		host, folder, _ := strings.Cut(k, "\x00")
		api, _, err := m.host(host)
		if err != nil {
			continue
		}
		sp, err := api.FreeSpace(ctx, folder)
		row := CheckRow{What: "room for test copies on " + host + " (" + folder + ")", OK: err == nil && sp.Free >= need}
		switch {
		case err != nil:
			row.Detail, row.Fix = err.Error(), fixFor(err, "check the folder on "+host)
		case !row.OK:
			row.Detail = fmt.Sprintf("need %s, %s free", bytesText(need), bytesText(sp.Free))
			row.Fix = fmt.Sprintf("free %s on %s, or test with differencing disks (leave the copy out)", bytesText(need-sp.Free), host)
		default:
			row.Detail = fmt.Sprintf("need %s, %s free", bytesText(need), bytesText(sp.Free))
		}
		p.add(row)
	}
}

// checkTestVMName refuses a test VM name the host already has.
func (m *Manager) checkTestVMName(ctx context.Context, p *prepared, vm, host string, th hyperv.TestHost) {
	name := testVMName(vm)
	_, err := th.GetVM(ctx, name)
	row := CheckRow{VM: vm, What: "test VM " + name + " on " + host, OK: errors.Is(err, hyperv.ErrVMNotFound),
		Detail: "will be created with " + vm + "'s configuration, every adapter on the test switch"}
	switch {
	case err == nil:
		row.Detail = "a VM of that name exists"
		row.Fix = "end the test that made it (failback jobs lists tests), or remove it on " + host + " (Remove-VM -Name " + psq(name) + ")"
	case !row.OK:
		row.Detail, row.Fix = err.Error(), fixFor(err, "check the host "+host)
	}
	p.add(row)
}

// planTestDisk decides where disk d's test disk goes and how it is made.
func (m *Manager) planTestDisk(ctx context.Context, t *target, d targetDisk, host string, hc *config.Host, title string, askCopy bool) (testDiskRecord, CheckRow) {
	row := CheckRow{VM: t.vm.Name, What: "test disk of " + hostBase(d.image)}
	td := testDiskRecord{Mode: testDiff}
	format := vdisk.NamedFormat(d.image)
	switch {
	case askCopy:
		td.Mode, td.Why = testCopy, "a copy, as you asked"
	case host != t.hostName:
		td.Mode, td.Why = testCopy, "copied: the test VMs run on "+host+", which cannot read "+d.image+" on "+t.hostName
	case format != vdisk.VHDX:
		td.Mode, td.Why = testCopy, fmt.Sprintf("copied: a %s cannot have a VHDX child", strings.ToUpper(string(orFormat(format))))
	}
	dir := d.image[:len(d.image)-len(hostBase(d.image))]
	if host != t.hostName {
		if hc.VMFolder == "" {
			row.Detail = "the test VMs run on " + host + ", which has no vm_folder for the copies"
			row.Fix = "set vm_folder in the [[host]] entry of " + host + ", or run the test VMs on " + t.hostName
			return td, row
		}
		dir = hc.VMFolder
	}
	td.Folder = joinHost(strings.TrimRight(dir, `\/`), testName(title))
	base := hostBase(d.image)
	ext := ".vhdx"
	if td.Mode == testCopy {
		if i := strings.LastIndex(base, "."); i > 0 {
			ext = base[i:]
		}
	}
	if i := strings.LastIndex(base, "."); i > 0 {
		base = base[:i]
	}
	td.Image = joinHost(td.Folder, base+"-test"+ext)
	// The host's mover makes and writes the test disk where it writes
	// real failbacks; a copy on another host is made from here.
	td.Mover = t.usesMover() && host == t.hostName
	if td.Mover {
		im, err := m.inspect(ctx, t, targetDisk{image: td.Image}, false, false)
		switch {
		case err != nil:
			row.Detail, row.Fix = err.Error(), fixFor(err, "check the mover on "+host+" (failback mover check --host "+host+")")
			return td, row
		case im.Exists:
			row.Detail = td.Image + " exists"
			row.Fix = "end the test that made it (failback jobs lists tests), or remove " + td.Image
			return td, row
		}
		if f, err := m.inspect(ctx, t, targetDisk{image: td.Folder}, false, false); err == nil && f.Exists {
			return td, testFolderTaken(row, td.Folder)
		}
		return td, testDiskOK(t.vm.Name, td, d)
	}
	var okImage, okFolder bool
	td.Local, okImage = hc.LocalPath(td.Image)
	td.LocalFolder, okFolder = hc.LocalPath(td.Folder)
	why := ""
	if t.usesMover() {
		why = " (a copy on another host is made from here, not by a host's mover)"
	}
	switch {
	case !okImage || !okFolder:
		row.Detail = "no path_map of " + host + " covers " + td.Folder + why
		row.Fix = "add a [[host.path_map]] to " + host + " mapping the folder of " + td.Folder + " to where it is mounted here"
		return td, row
	case !d.localOK:
		row.Detail = "no path_map of " + t.hostName + " covers " + d.image + why
		row.Fix = "add a [[host.path_map]] to " + t.hostName + " mapping the folder of " + d.image + " to where it is mounted here"
		return td, row
	case exists(td.Local):
		row.Detail = td.Image + " exists"
		row.Fix = "end the test that made it (failback jobs lists tests), or remove " + td.Image
		return td, row
	case exists(td.LocalFolder):
		return td, testFolderTaken(row, td.Folder)
	}
	return td, testDiskOK(t.vm.Name, td, d)
}

// testDiskOK is the row of a test disk that can be made.
func testDiskOK(vm string, td testDiskRecord, d targetDisk) CheckRow {
	row := CheckRow{VM: vm, What: "test disk of " + hostBase(d.image), OK: true,
		Detail: td.Image + ": a differencing disk over " + hostBase(d.image) + ", which is only read; only the blocks that differ from Azure take space"}
	if td.Mode == testCopy {
		row.Detail = td.Image + ": " + td.Why
	}
	return row
}

// checkTestSwitch checks the test switch on a host: present and isolated,
// or missing (then the test creates it, private, and removes it at the end).
func (m *Manager) checkTestSwitch(ctx context.Context, p *prepared, host string, th hyperv.TestHost, name string) testSwitch {
	ts := testSwitch{Host: host, Name: name, Type: hyperv.SwitchPrivate}
	row := CheckRow{What: "test switch " + name + " on " + host}
	all, err := th.ListSwitches(ctx)
	if err != nil {
		row.Detail, row.Fix = err.Error(), fixFor(err, "check the host "+host)
		p.add(row)
		return ts
	}
	i := slices.IndexFunc(all, func(s hyperv.Switch) bool { return strings.EqualFold(s.Name, name) })
	switch {
	case i < 0:
		ts.Owned = true
		row.OK, row.Detail = true, "will be created (Private: the test VMs reach each other only) and removed when the test ends"
	case all[i].Type == hyperv.SwitchExternal:
		row.Detail = "it is External: the test VMs would join the production network with production's addresses"
		row.Fix = "choose a Private or Internal switch, or leave the switch out for a private one the test creates"
	default:
		ts.Name, ts.Type = all[i].Name, all[i].Type
		row.OK, row.Detail = true, fmt.Sprintf("present (%s); kept when the test ends", all[i].Type)
	}
	p.add(row)
	return ts
}

// checkTestPorts says what is checked after a test VM starts.
func (m *Manager) checkTestPorts(p *prepared, vm *config.VM, sw testSwitch) {
	what := "running, heartbeat (Get-VMIntegrationService)"
	if len(vm.TestPorts) == 0 {
		p.add(CheckRow{VM: vm.Name, What: "checks after start", OK: true, Detail: what + "; no TCP ports (test_ports in its [[vm]] adds them)"})
		return
	}
	var ports []string
	for _, n := range vm.TestPorts {
		ports = append(ports, fmt.Sprint(n))
	}
	p.add(CheckRow{VM: vm.Name, What: "checks after start", OK: true, Detail: what + ", TCP ports " + strings.Join(ports, ", ") + " from the host"})
	if sw.Type == hyperv.SwitchPrivate {
		p.add(CheckRow{VM: vm.Name, What: "TCP ports from the host", OK: true, Warning: true,
			Detail: "a Private switch isolates the test VMs from the host too: the ports will be reported unreachable",
			Fix:    "to check them, choose an Internal switch with a host address in the VMs' network as the test switch"})
	}
}

// testRecords puts a passed test pre-flight into a new job's record.
func (m *Manager) testRecords(ctx context.Context, p *prepared, rec *jobRecord) error {
	rec.Test = &testRecord{Switches: p.test.switches}
	for i, t := range p.targets {
		pv := p.test.vms[i]
		v := &rec.VMs[i]
		for k := range v.Disks {
			td := pv.disks[k]
			v.Disks[k].Test = &td
		}
		sizes := make([]int64, len(v.Disks))
		for k, d := range v.Disks {
			sizes[k] = d.Size
		}
		spec, err := m.vmSpec(ctx, t, sizes, Choices{})
		if err != nil {
			return err
		}
		sw := p.test.switches[slices.IndexFunc(p.test.switches, func(s testSwitch) bool { return s.Host == pv.host })].Name
		spec.Name, spec.HighlyAvailable, spec.Folder = testVMName(t.vm.Name), false, pv.disks[0].Folder
		if len(spec.Adapters) == 0 {
			spec.Adapters = []hyperv.AdapterSpec{{Name: "Network Adapter"}}
		}
		for a := range spec.Adapters {
			spec.Adapters[a].SwitchName = sw
		}
		spec.SwitchName = sw
		for k := range spec.Disks {
			spec.Disks[k].HostPath, spec.Disks[k].Existing = pv.disks[k].Image, true
		}
		v.Test = &testVMRecord{Name: spec.Name, Host: pv.host, Spec: spec, Ports: slices.Clone(t.vm.TestPorts)}
	}
	return nil
}

// allocatedOf is what a local image holds (0 when unreadable: the
// pre-flight's image row says why).
func (m *Manager) allocatedOf(ctx context.Context, t *target, d targetDisk) int64 {
	im, err := m.inspect(ctx, t, d, false, false)
	if err != nil || im.Info == nil {
		return 0
	}
	return im.Info.AllocatedBytes
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func orFormat(f vdisk.Format) vdisk.Format {
	if f == "" {
		return vdisk.Raw
	}
	return f
}

// testCopiesElsewhere says t's test disks are copies on another host than
// its disks': this machine writes them, with the journals in its own state
// folder (planTestDisk's rule: a host's mover writes only its own disks).
func (p *prepared) testCopiesElsewhere(t *target) bool {
	return p.choices.Test && p.choices.TestHost != "" && p.choices.TestHost != t.hostName
}

// testFolderTaken refuses a test folder that exists before the test: End
// test removes its folder whole, so it must be one this test makes.
func testFolderTaken(row CheckRow, folder string) CheckRow {
	row.Detail = folder + " exists (End test removes the test folder with what is in it, so it must be this test's)"
	row.Fix = "end the test that made it (failback jobs lists tests), or move or remove " + folder
	return row
}

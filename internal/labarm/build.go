package labarm

import (
	"context"
	"fmt"
	"strings"

	"github.com/failback/failback/azure"
)

// VMSpec describes a VM for CreateVM.
type VMSpec struct {
	// RG and Name name the VM. Names are unique across groups (the VM is
	// also the LabCompute VM of that name, which knows no groups).
	RG, Name string
	// Location defaults to Options.Location; Size to Standard_D2s_v5;
	// OSType ("Windows" or "Linux") to Windows.
	Location, Size, OSType string
	// OSDisk and DataDisks (LUN set) are managed disks of the VM's group
	// (made with CreateDisk, unattached) or unmanaged page blobs.
	OSDisk    DiskSpec
	DataDisks []DiskSpec
	// NICs are made with the VM, in its group; the first is primary.
	NICs []NICSpec
}

// DiskSpec is one disk of a VMSpec: Disk (a managed disk's name) or
// Container and Blob (an unmanaged disk: a fixed-VHD page blob in the
// lab's storage account).
type DiskSpec struct {
	LUN             int32
	Disk            string
	Container, Blob string
	// DeleteOption is "Delete" or "Detach" (default): whether a managed
	// disk goes with the VM.
	DeleteOption string
}

// NICSpec is a network interface made with the VM.
type NICSpec struct {
	Name string
	// PublicIP names a public IP address to make and hold ("" for none).
	PublicIP string
	// DeleteOption ("Delete" or "Detach", default) says whether the NIC
	// goes with the VM; PublicIPDeleteOption whether its public IP does.
	DeleteOption, PublicIPDeleteOption string
}

// CreateVM makes a running VM with its disks attached and its NICs (and
// their public IPs), and the LabCompute VM of the same name whose disks
// are the backing blobs, so azure.RunLabVM writes them. It returns the
// VM's ARM id.
func (s *Server) CreateVM(ctx context.Context, spec VMSpec) (string, error) {
	fail := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("lab create VM %s/%s: %s", spec.RG, spec.Name, fmt.Sprintf(format, args...))
	}
	if e := checkNames(spec.RG, spec.Name); e != nil {
		return fail("%s", e.message)
	}
	vm := &vmRec{Name: spec.Name, RG: spec.RG, Location: spec.Location, Size: spec.Size, VMID: newGUID(), Created: s.now(),
		OSType: spec.OSType, ComputeName: spec.Name}
	if vm.Location == "" {
		vm.Location = s.o.Location
	}
	if vm.Size == "" {
		vm.Size = "Standard_D2s_v5"
	}
	if vm.OSType == "" {
		vm.OSType = "Windows"
	}
	unlock, err := s.st.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	if old, err := get[vmRec](s.st, kindVM, spec.RG, spec.Name); err != nil || old != nil {
		if err != nil {
			return "", err
		}
		return fail("a VM of that name exists already")
	}
	if _, err := s.o.Compute.Read(ctx, spec.Name); err == nil {
		return fail("LabCompute already has a VM named %s (lab VM names are unique across resource groups)", spec.Name)
	}
	if e := checkSpec(spec); e != "" {
		return fail("%s", e)
	}
	vmID := s.vmID(vm)
	var labDisks []azure.LabDisk
	var attach []*diskRec
	for i, ds := range append([]DiskSpec{spec.OSDisk}, spec.DataDisks...) {
		d, ld, rec, err := s.buildDisk(ctx, spec.RG, ds)
		if err != nil {
			return fail("disk %d: %v", i, err)
		}
		if i == 0 {
			vm.OSDisk = d
		} else {
			vm.DataDisks = append(vm.DataDisks, d)
		}
		labDisks = append(labDisks, ld)
		if rec != nil {
			rec.ManagedBy = vmID
			if i == 0 {
				rec.OSType = vm.OSType
			}
			attach = append(attach, rec)
		}
	}
	var nics []*nicRec
	var pips []*pipRec
	for i, ns := range spec.NICs {
		if e := checkNames(spec.RG, ns.Name); e != nil {
			return fail("NIC: %s", e.message)
		}
		if old, err := get[nicRec](s.st, kindNIC, spec.RG, ns.Name); err != nil {
			return "", err
		} else if old != nil {
			return fail("NIC %s exists already", ns.Name)
		}
		mac := newGUID()
		n := &nicRec{Name: ns.Name, RG: spec.RG, Location: vm.Location, VM: vmID, PrivateIP: fmt.Sprintf("10.0.0.%d", 4+i),
			MAC: strings.ToUpper("00-0D-3A-" + mac[0:2] + "-" + mac[2:4] + "-" + mac[4:6])}
		if ns.PublicIP != "" {
			if e := checkNames(spec.RG, ns.PublicIP); e != nil {
				return fail("public IP: %s", e.message)
			}
			if old, err := get[pipRec](s.st, kindPIP, spec.RG, ns.PublicIP); err != nil {
				return "", err
			} else if old != nil {
				return fail("public IP %s exists already", ns.PublicIP)
			}
			p := &pipRec{Name: ns.PublicIP, RG: spec.RG, Location: vm.Location, Address: fmt.Sprintf("203.0.113.%d", 10+len(pips))}
			n.PublicIP, n.PublicIPDeleteOption = s.pipID(p), deleteOption(ns.PublicIPDeleteOption)
			p.IPConfig = s.nicID(n) + "/ipConfigurations/ipconfig1"
			pips = append(pips, p)
		}
		nics = append(nics, n)
		vm.NICs = append(vm.NICs, vmNIC{Name: ns.Name, Primary: i == 0, DeleteOption: deleteOption(ns.DeleteOption)})
	}
	for _, p := range pips {
		if err := s.st.put(kindPIP, p.RG, p.Name, p); err != nil {
			return "", err
		}
	}
	for _, n := range nics {
		if err := s.st.put(kindNIC, n.RG, n.Name, n); err != nil {
			return "", err
		}
	}
	for _, d := range attach {
		if err := s.st.put(kindDisk, d.RG, d.Name, d); err != nil {
			return "", err
		}
	}
	if err := s.st.put(kindVM, vm.RG, vm.Name, vm); err != nil {
		return "", err
	}
	if err := s.o.Compute.CreateVM(ctx, vm.ComputeName, labDisks); err != nil {
		return "", err
	}
	return vmID, nil
}

// checkSpec finds what CreateVM cannot build: a LUN or disk given twice,
// a deleteOption that is neither Delete nor Detach.
func checkSpec(spec VMSpec) string {
	luns, disks := map[int32]bool{}, map[string]bool{}
	opts := []string{}
	for i, d := range append([]DiskSpec{spec.OSDisk}, spec.DataDisks...) {
		key := strings.ToLower(d.Disk)
		if d.Disk == "" {
			key = d.Container + "/" + d.Blob
		}
		if disks[key] {
			return "disk " + key + " is given twice"
		}
		disks[key] = true
		if i > 0 && luns[d.LUN] {
			return fmt.Sprintf("LUN %d is given twice", d.LUN)
		}
		luns[d.LUN] = i > 0
		opts = append(opts, d.DeleteOption)
	}
	for _, n := range spec.NICs {
		opts = append(opts, n.DeleteOption, n.PublicIPDeleteOption)
	}
	for _, o := range opts {
		if _, ok := parseDeleteOption(o); !ok {
			return fmt.Sprintf("deleteOption %q: want Delete or Detach", o)
		}
	}
	return ""
}

// buildDisk checks one disk of a VMSpec and describes it; rec is the
// managed disk to attach (nil for a page blob).
func (s *Server) buildDisk(ctx context.Context, rg string, ds DiskSpec) (vmDisk, azure.LabDisk, *diskRec, error) {
	d := vmDisk{LUN: ds.LUN, DeleteOption: deleteOption(ds.DeleteOption)}
	if ds.Disk != "" {
		rec, err := get[diskRec](s.st, kindDisk, rg, ds.Disk)
		switch {
		case err != nil:
			return d, azure.LabDisk{}, nil, err
		case rec == nil:
			return d, azure.LabDisk{}, nil, fmt.Errorf("no managed disk %s/%s (make it with CreateDisk first)", rg, ds.Disk)
		case rec.ManagedBy != "":
			return d, azure.LabDisk{}, nil, fmt.Errorf("managed disk %s is attached to %s already", ds.Disk, rec.ManagedBy)
		}
		d.Name, d.Managed, d.SizeBytes, d.SKU = rec.Name, true, rec.SizeBytes, rec.SKU
		return d, azure.LabDisk{Container: rec.Container, Blob: rec.Blob}, rec, nil
	}
	if ds.Container == "" || ds.Blob == "" {
		return d, azure.LabDisk{}, nil, fmt.Errorf("give a managed disk's name, or the container and blob of an unmanaged one")
	}
	pb, err := s.stor.OpenDisk(ctx, ds.Container, ds.Blob)
	if err != nil {
		return d, azure.LabDisk{}, nil, err
	}
	d.Name = strings.TrimSuffix(ds.Blob[strings.LastIndexByte(ds.Blob, '/')+1:], ".vhd")
	d.Container, d.Blob, d.SizeBytes = ds.Container, ds.Blob, pb.Size()
	return d, azure.LabDisk{Container: ds.Container, Blob: ds.Blob}, nil, nil
}

// deleteOption normalises a deleteOption: Delete, or Detach (the default).
func deleteOption(v string) string {
	o, _ := parseDeleteOption(v)
	return o
}

// parseDeleteOption reads a deleteOption: Delete, Detach, or "" (Detach).
func parseDeleteOption(v string) (string, bool) {
	switch {
	case strings.EqualFold(v, "Delete"):
		return "Delete", true
	case v == "" || strings.EqualFold(v, "Detach"):
		return "Detach", true
	}
	return "Detach", false
}

package hyperv

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/failback/failback/internal/hostpath"
)

// CheckOptions tunes CheckAlternate.
type CheckOptions struct {
	// OriginalSwitchType, when known, makes the New-VMSwitch advice match
	// the original switch (External needs a physical adapter).
	OriginalSwitchType SwitchType
	// Headroom is free space to keep beyond the disks, per volume.
	Headroom int64
}

// DiskNeed is the room one disk needs, and why that much.
type DiskNeed struct {
	HostPath string `json:"host_path"`
	Volume   string `json:"volume"`
	Bytes    int64  `json:"bytes"`
	// Basis says which size was counted: the virtual size, the source's
	// allocated bytes, or nothing for a file that is already there.
	Basis string `json:"basis"`
}

// VolumeCheck is the room on one volume against what its disks need.
type VolumeCheck struct {
	Volume string `json:"volume"`
	Folder string `json:"folder"`
	Free   int64  `json:"free"`
	Need   int64  `json:"need"`
	OK     bool   `json:"ok"`
}

// Report is what CheckAlternate found. Problems block the failback;
// Warnings do not.
type Report struct {
	Host        string `json:"host"`
	Switch      string `json:"switch"`
	SwitchFound bool   `json:"switch_found"`
	// Missing lists the switches of the spec the host lacks.
	Missing  []string      `json:"missing,omitempty"`
	VMExists bool          `json:"vm_exists"`
	Existing *VM           `json:"existing,omitempty"`
	Disks    []DiskNeed    `json:"disks"`
	Volumes  []VolumeCheck `json:"volumes"`
	Problems []string      `json:"problems,omitempty"`
	Warnings []string      `json:"warnings,omitempty"`
}

// OK reports whether nothing blocks the failback.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// CheckAlternate checks, before anything is written, that host can take
// the VM the spec describes: a virtual switch with the original's name, room
// for the disks on each volume, and whether the VM already exists (then its
// disks are the targets and only their growth is counted). It changes
// nothing on the host. The error is nil when the report has no problems;
// otherwise it wraps ErrSwitchNotFound and/or ErrNoSpace and says what to do.
// Errors reaching the host are returned as they are.
func CheckAlternate(ctx context.Context, host Host, spec VMSpec, opts CheckOptions) (Report, error) {
	rep := Report{Host: host.Name(), Switch: strings.Join(spec.Switches(), ", "), Disks: []DiskNeed{}, Volumes: []VolumeCheck{}}
	if err := spec.Validate(); err != nil {
		return rep, err
	}
	var kinds []error

	switches, err := host.ListSwitches(ctx)
	if err != nil {
		return rep, err
	}
	var names []string
	for _, s := range switches {
		names = append(names, psQuote(s.Name))
	}
	have := "it has none"
	if len(names) > 0 {
		have = "it has " + strings.Join(names, ", ")
	}
	rep.SwitchFound = true
	for _, want := range spec.Switches() {
		found := false
		for _, s := range switches {
			if strings.EqualFold(s.Name, want) {
				found = true
				if s.Name != want {
					rep.Warnings = append(rep.Warnings, fmt.Sprintf("the switch is named %s on %s, %s on the original host (Hyper-V matches names without regard to case)", psQuote(s.Name), host.Name(), psQuote(want)))
				}
			}
		}
		if !found {
			rep.SwitchFound = false
			rep.Missing = append(rep.Missing, want)
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s has no virtual switch named %s (%s). %s",
				host.Name(), psQuote(want), have, newSwitchAdvice(want, opts.OriginalSwitchType)))
		}
	}
	if !rep.SwitchFound {
		kinds = append(kinds, ErrSwitchNotFound)
	}

	existing, err := host.GetVM(ctx, spec.Name)
	switch {
	case err == nil:
		rep.VMExists, rep.Existing = true, &existing
		if existing.Generation != spec.Generation {
			rep.Problems = append(rep.Problems, fmt.Sprintf("the VM %s on %s is generation %d but the original is generation %d: remove or rename it, or fail back to another host",
				psQuote(spec.Name), host.Name(), existing.Generation, spec.Generation))
			kinds = append(kinds, ErrVMExists)
		}
		if existing.State != StateOff {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the VM %s on %s is %s; it must be off before its disks are written", psQuote(spec.Name), host.Name(), existing.State))
		}
	case errors.Is(err, ErrVMNotFound):
	default:
		return rep, err
	}

	needs := diskNeeds(spec, rep.Existing)
	if err := checkRoom(ctx, host, needs, opts.Headroom, &rep); err != nil {
		return rep, err
	}
	for _, v := range rep.Volumes {
		if !v.OK {
			kinds = append(kinds, ErrNoSpace)
			break
		}
	}
	if rep.OK() {
		return rep, nil
	}
	e := &HostError{Kind: kinds[0], Host: host.Name(), Op: "check the alternate location for " + psQuote(spec.Name),
		Detail: strings.Join(rep.Problems, "; ")}
	if len(kinds) > 1 {
		return rep, errors.Join(e, kinds[1])
	}
	return rep, e
}

// newSwitchAdvice is the exact PowerShell that creates the missing switch.
func newSwitchAdvice(name string, original SwitchType) string {
	q := psQuote(name)
	switch original {
	case SwitchExternal:
		return fmt.Sprintf("The original is an external switch: create it on this host with New-VMSwitch -Name %s -NetAdapterName 'Ethernet' -AllowManagementOS $true (Get-NetAdapter lists the adapter names)", q)
	case SwitchInternal, SwitchPrivate:
		return fmt.Sprintf("Create it on this host with New-VMSwitch -Name %s -SwitchType %s", q, original)
	}
	return fmt.Sprintf("Create it on this host with New-VMSwitch -Name %s -NetAdapterName 'Ethernet' -AllowManagementOS $true (external; Get-NetAdapter lists the adapter names) or New-VMSwitch -Name %s -SwitchType Internal", q, q)
}

// diskNeeds says how much each disk will take. For a VM that exists, its
// own disks are the targets: a dynamic one grows to the source's allocated
// bytes, a fixed one needs nothing more.
func diskNeeds(spec VMSpec, existing *VM) []DiskNeed {
	var out []DiskNeed
	if existing != nil {
		for _, d := range existing.Disks {
			n := DiskNeed{HostPath: d.HostPath, Basis: "nothing (fixed disk, already full size)"}
			if !d.Fixed {
				n.Basis = "nothing (allocated bytes of the source unknown; the disk may grow up to its virtual size)"
				for _, s := range spec.Disks {
					if s.Controller == d.Controller && s.AllocatedBytes > 0 {
						n.Bytes = max(0, s.AllocatedBytes-d.FileSize)
						n.Basis = fmt.Sprintf("growth of the existing dynamic disk (%d bytes now) to the source's allocated bytes", d.FileSize)
					}
				}
			}
			out = append(out, n)
		}
		return out
	}
	for _, d := range spec.Disks {
		n := DiskNeed{HostPath: d.HostPath}
		switch {
		case d.Existing:
			n.Basis = "nothing (the file is already there)"
		case d.Fixed:
			n.Bytes, n.Basis = d.VirtualSize, "virtual size (fixed disk)"
		case d.AllocatedBytes > 0:
			n.Bytes = min(d.AllocatedBytes, d.VirtualSize)
			n.Basis = fmt.Sprintf("allocated bytes of the source (dynamic disk; it can grow to its virtual size, %d bytes)", d.VirtualSize)
		default:
			n.Bytes, n.Basis = d.VirtualSize, "virtual size (dynamic disk; the source's allocated bytes are unknown, so the worst case)"
		}
		out = append(out, n)
	}
	return out
}

// checkRoom measures each disk's volume once and adds up what lands on it.
func checkRoom(ctx context.Context, host Host, needs []DiskNeed, headroom int64, rep *Report) error {
	byVolume := map[string]*VolumeCheck{}
	var order []string
	for i := range needs {
		folder := hostDir(needs[i].HostPath)
		sp, err := host.FreeSpace(ctx, folder)
		if err != nil {
			return err
		}
		needs[i].Volume = sp.Volume
		v, ok := byVolume[sp.Volume]
		if !ok {
			v = &VolumeCheck{Volume: sp.Volume, Folder: folder, Free: sp.Free, Need: headroom}
			byVolume[sp.Volume] = v
			order = append(order, sp.Volume)
		}
		v.Need += needs[i].Bytes
	}
	rep.Disks = needs
	sort.Strings(order)
	for _, k := range order {
		v := byVolume[k]
		v.OK = v.Need <= v.Free
		rep.Volumes = append(rep.Volumes, *v)
		if !v.OK {
			rep.Problems = append(rep.Problems, fmt.Sprintf("not enough free space on %s (volume of %s): the disks need %s, %s is free; free %s or choose another folder",
				v.Volume, v.Folder, size(v.Need), size(v.Free), size(v.Need-v.Free)))
		}
	}
	return nil
}

// hostDir is the folder of a host path, in the host's style.
func hostDir(p string) string {
	if hostpath.IsWindowsAbs(p) {
		p = strings.ReplaceAll(p, "/", `\`)
		i := strings.LastIndex(p, `\`)
		if i <= 2 {
			return p[:3]
		}
		return p[:i]
	}
	return filepath.Dir(p)
}

// size prints bytes for an operator: GiB from 1 GiB up, MiB below.
func size(n int64) string {
	if n >= 1<<30 || n <= -1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// EnsureVM returns the VM the spec names on host. When it does not exist
// it is created (after CheckAlternate passes) only if createIfMissing says
// the operator chose that; otherwise the error wraps ErrVMNotFound and says
// how to proceed. created says whether this call created it.
func EnsureVM(ctx context.Context, host Host, spec VMSpec, createIfMissing bool) (vm VM, created bool, err error) {
	vm, err = host.GetVM(ctx, spec.Name)
	if err == nil {
		if vm.Generation != spec.Generation {
			return vm, false, &HostError{Kind: ErrVMExists, Host: host.Name(), Op: "use VM " + psQuote(spec.Name),
				Detail: fmt.Sprintf("it is generation %d, the original generation %d", vm.Generation, spec.Generation),
				Hint:   "Remove or rename it, or fail back to another host"}
		}
		return vm, false, nil
	}
	if !errors.Is(err, ErrVMNotFound) {
		return VM{}, false, err
	}
	if !createIfMissing {
		return VM{}, false, &HostError{Kind: ErrVMNotFound, Host: host.Name(), Op: "use VM " + psQuote(spec.Name),
			Detail: "it does not exist at the alternate location",
			Hint:   "Choose \"create the on-premises VM if it does not exist\", or create it by hand with the original's name, generation and switch"}
	}
	if _, err := CheckAlternate(ctx, host, spec, CheckOptions{}); err != nil {
		return VM{}, false, err
	}
	vm, err = host.CreateVM(ctx, spec)
	if err != nil {
		return VM{}, false, err
	}
	return vm, true, nil
}

// SwitchAdvice is the exact PowerShell that creates a missing switch.
func SwitchAdvice(name string) string { return newSwitchAdvice(name, "") }

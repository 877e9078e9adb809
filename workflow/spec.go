package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/hyperv"
)

// vmSpec is the VM to create at a target: the original VM's shape as the
// original host reports it (generation, processors, memory, every network
// adapter with its switch, static MAC and VLAN, DVD drives, the disks'
// controller slots, Secure Boot), with what config.toml sets (generation,
// cpus, memory) taking precedence, and the operator's switch mapping
// applied. When the original host does not answer, config.toml must give
// generation, cpus and memory, and the VM gets one adapter on its switch.
func (m *Manager) vmSpec(ctx context.Context, t *target, sizes []int64, c Choices) (hyperv.VMSpec, error) {
	orig, oerr := m.originalVM(ctx, t)
	var spec hyperv.VMSpec
	if oerr == nil {
		spec = hyperv.SpecFromVM(orig)
	} else {
		spec = hyperv.VMSpec{Name: t.vm.Name, Adapters: []hyperv.AdapterSpec{{Name: "Network Adapter", SwitchName: t.vm.Switch}}}
	}
	if g := t.vm.Generation; g != 0 && g != spec.Generation {
		spec.Generation = g
		spec.DVDDrives, spec.SecureBoot, spec.SecureBootTemplate = nil, "", "" // the original's do not fit another generation
	}
	if t.vm.CPUs != 0 {
		spec.CPUCount = t.vm.CPUs
	}
	if mem := t.vm.Memory.Bytes(); mem != 0 {
		spec.MemoryBytes = mem
		spec.MemoryMinimum = min(spec.MemoryMinimum, mem)
		if spec.MemoryMaximum != 0 {
			spec.MemoryMaximum = max(spec.MemoryMaximum, mem)
		}
	}
	if spec.Generation == 0 || spec.CPUCount == 0 || spec.MemoryBytes == 0 {
		return hyperv.VMSpec{}, fmt.Errorf("%s: set generation, cpus and memory in its [[vm]] entry (the original VM, which would give them, is not readable: %w)", t.vm.Name, oerr)
	}
	spec.Name = t.vm.Name
	if len(spec.Adapters) == 0 && t.vm.Switch != "" {
		spec.Adapters = []hyperv.AdapterSpec{{Name: "Network Adapter", SwitchName: t.vm.Switch}}
	}
	for i, a := range spec.Adapters {
		if to, ok := c.SwitchMap[a.SwitchName]; ok && to != "" {
			spec.Adapters[i].SwitchName = to
		}
	}
	if t.hc != nil && t.hc.VMFolder != "" {
		spec.Folder = joinHost(t.hc.VMFolder, t.vm.Name)
	}
	var slots []hyperv.Controller
	for _, d := range spec.Disks {
		slots = append(slots, d.Controller)
	}
	spec.Disks = nil
	for i, d := range t.disks {
		ds := hyperv.DiskSpec{HostPath: d.image, Controller: controllerFor(spec.Generation, i)}
		if oerr == nil {
			if k := origDisk(orig, d.cfg.Image); k >= 0 && orig.Generation == spec.Generation {
				ds.Controller = slots[k] // where the original has it
			}
		}
		if i < len(sizes) {
			ds.VirtualSize = sizes[i]
		}
		if d.reachable(t) {
			if im, err := m.inspect(ctx, t, d, false, false); err == nil && im.Exists {
				ds.Existing = true
			}
		}
		spec.Disks = append(spec.Disks, ds)
	}
	spec.HighlyAvailable = t.info.Cluster != "" && onCSV(t.info, spec)
	return spec, nil
}

// origDisk is the index of the original VM's disk that is image (or runs
// from a differencing child of it), or -1.
func origDisk(vm hyperv.VM, image string) int {
	for k, d := range vm.Disks {
		if strings.EqualFold(d.HostPath, image) || strings.EqualFold(d.ParentPath, image) {
			return k
		}
	}
	return -1
}

// onCSV says whether the VM's folder and every disk lie on the cluster's
// shared volumes, as a highly available VM's must.
func onCSV(info hyperv.HostInfo, spec hyperv.VMSpec) bool {
	if spec.Folder == "" || !info.OnCSV(spec.Folder) {
		return false
	}
	for _, d := range spec.Disks {
		if !info.OnCSV(d.HostPath) {
			return false
		}
	}
	return true
}

// originalVM reads the VM on its original host (or the cluster node that
// owns it now).
func (m *Manager) originalVM(ctx context.Context, t *target) (hyperv.VM, error) {
	if (t.hostName == t.vm.Host || t.node != "") && t.existing != nil {
		return *t.existing, nil
	}
	h, _, err := m.host(t.vm.Host)
	if err != nil {
		return hyperv.VM{}, err
	}
	return h.GetVM(ctx, t.vm.Name)
}

// controllerFor places disk i when the original's slot is not known:
// generation 1 IDE 0:0, 0:1 and 1:1 (New-VM puts the DVD drive at IDE
// 1:0), then SCSI 0:n; generation 2 SCSI 0:i.
func controllerFor(gen, i int) hyperv.Controller {
	if gen == 1 {
		switch {
		case i < 2:
			return hyperv.Controller{Type: hyperv.IDE, Number: 0, Location: i}
		case i == 2:
			return hyperv.Controller{Type: hyperv.IDE, Number: 1, Location: 1}
		}
		return hyperv.Controller{Type: hyperv.SCSI, Number: 0, Location: i - 3}
	}
	return hyperv.Controller{Type: hyperv.SCSI, Number: 0, Location: i}
}

// fixFor is the operator's next step for an error: the hint the azure or
// hyperv package attached, else fallback.
func fixFor(err error, fallback string) string {
	var he *hyperv.HostError
	if errors.As(err, &he) && he.Hint != "" {
		return he.Hint
	}
	var se *azure.StorageError
	if errors.As(err, &se) && se.Hint != "" {
		return se.Hint
	}
	return fallback
}

// certFix says what to do about one certificate refusal, in words and
// in failback run's flags ("" when they are the same).
func certFix(err error, thumb string) (fix, cliFix string) {
	switch {
	case errors.Is(err, crypt.ErrCertExpired), errors.Is(err, crypt.ErrCertNotYetValid):
		return "renew the certificate, or accept it knowingly outside its dates",
			"renew the certificate, or accept it knowingly with " + crypt.AllowExpiredFlag
	case errors.Is(err, crypt.ErrCertNotFound):
		return "put the certificate (with its private key) in certificates_dir, or choose another certificate", ""
	case errors.Is(err, crypt.ErrPFXPassword):
		return "give the PFX file's password in a [[certificate]] entry of config.toml", ""
	case errors.Is(err, crypt.ErrNoPrivateKey), errors.Is(err, crypt.ErrKeyMismatch):
		return "the file must hold the certificate's own private key: export it again with the key", ""
	case errors.Is(err, crypt.ErrThumbprintMismatch), errors.Is(err, crypt.ErrUnwrap):
		return "choose the certificate the disks were encrypted for",
			"choose the certificate the disks were encrypted for (failback certificates lists which one each disk needs)"
	}
	return "check the certificate " + thumb + " in certificates_dir", ""
}

// splitErrors undoes errors.Join (whose message is one line per error);
// other multi-errors, such as a StorageError, stay whole.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && strings.Contains(err.Error(), "\n") {
		return j.Unwrap()
	}
	return []error{err}
}

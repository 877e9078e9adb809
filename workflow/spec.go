package workflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/hyperv"
)

// vmSpec is the VM to create at a target: the shape config.toml gives, or
// the original VM's where config.toml leaves it out (0).
func (m *Manager) vmSpec(ctx context.Context, t *target, sizes []int64) (hyperv.VMSpec, error) {
	gen, cpus, mem := t.vm.Generation, t.vm.CPUs, t.vm.Memory.Bytes()
	if gen == 0 || cpus == 0 || mem == 0 {
		orig, err := m.originalVM(ctx, t)
		if err != nil {
			return hyperv.VMSpec{}, fmt.Errorf("%s: set generation, cpus and memory in its [[vm]] entry (the original VM, which would give them, is not readable: %w)", t.vm.Name, err)
		}
		if gen == 0 {
			gen = orig.Generation
		}
		if cpus == 0 {
			cpus = orig.CPUCount
		}
		if mem == 0 {
			mem = orig.MemoryBytes
		}
	}
	spec := hyperv.VMSpec{Name: t.vm.Name, Generation: gen, CPUCount: cpus, MemoryBytes: mem, SwitchName: t.vm.Switch}
	for i, d := range t.disks {
		ds := hyperv.DiskSpec{HostPath: d.image, Controller: controllerFor(gen, i)}
		if i < len(sizes) {
			ds.VirtualSize = sizes[i]
		}
		if d.localOK {
			if _, err := os.Stat(d.local); err == nil {
				ds.Existing = true
			}
		}
		spec.Disks = append(spec.Disks, ds)
	}
	return spec, nil
}

// originalVM reads the VM on its original host.
func (m *Manager) originalVM(ctx context.Context, t *target) (hyperv.VM, error) {
	if t.hostName == t.vm.Host && t.existing != nil {
		return *t.existing, nil
	}
	h, _, err := m.host(t.vm.Host)
	if err != nil {
		return hyperv.VM{}, err
	}
	return h.GetVM(ctx, t.vm.Name)
}

// controllerFor places disk i as Hyper-V does: IDE 0:0, 0:1, 1:0, 1:1 on
// generation 1 (then SCSI), SCSI 0:i on generation 2.
func controllerFor(gen, i int) hyperv.Controller {
	if gen == 1 && i < 4 {
		return hyperv.Controller{Type: hyperv.IDE, Number: i / 2, Location: i % 2}
	}
	if gen == 1 {
		i -= 4
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

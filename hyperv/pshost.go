package hyperv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/failback/failback/internal/hostpath"
)

// PSHost is a real Hyper-V host driven through PowerShell's Hyper-V module.
// Each method runs one generated script (ps/*.ps1) through the Runner and
// reads the single JSON line it prints.
type PSHost struct {
	name   string
	runner Runner
}

// NewPSHost returns a host named name (for messages) reached through r.
func NewPSHost(name string, r Runner) *PSHost {
	return &PSHost{name: name, runner: r}
}

// Name implements Host.
func (h *PSHost) Name() string { return h.name }

// Describe implements Host.
func (h *PSHost) Describe() string {
	return "Hyper-V host " + h.name + " through PowerShell (" + h.runner.Describe() + ")"
}

// run runs op's script with params and decodes the result into out.
func (h *PSHost) run(ctx context.Context, op, what string, params []psParam, out any) error {
	for _, p := range params {
		if p.Bad != "" {
			return fmt.Errorf("%s: %s: %s; nothing was run on the host", h.name, what, p.Bad)
		}
	}
	script := buildScript(op, params)
	res, err := h.runner.Run(ctx, script)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %s: %w", h.name, what, ctx.Err())
		}
		var he *HostError
		if errors.As(err, &he) {
			if he.Host == "" {
				he.Host = h.name
			}
			if he.Op == "" {
				he.Op = what
			}
			return he
		}
		e := newHostError(ErrUnreachable, h.name, what, "")
		e.Err = err
		return e
	}
	env, ok := findEnvelope(res.Stdout)
	if !ok {
		return h.noEnvelope(what, res)
	}
	if env.Error != nil {
		return env.Error.toHostError(h.name, what)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.OK, out); err != nil {
		e := newHostError(ErrHostFailed, h.name, what, "unexpected output from the host's PowerShell")
		e.Err = err
		e.Hint = "The host's Hyper-V module may be a version failback does not know; report this output: " + clip(string(env.OK), 300)
		return e
	}
	return nil
}

// noEnvelope explains output that is not one of our JSON lines: usually
// PowerShell did not start at all.
func (h *PSHost) noEnvelope(what string, res Output) error {
	stderr := strings.TrimSpace(string(res.Stderr))
	all := stderr + "\n" + string(res.Stdout)
	switch {
	case strings.Contains(all, "is not recognized as an internal or external command"),
		strings.Contains(all, "command not found"):
		e := newHostError(ErrUnreachable, h.name, what, "PowerShell could not be started: "+clip(all, 300))
		e.Hint = "The SSH server must be Windows OpenSSH with powershell.exe on its PATH"
		return e
	case bytes.HasPrefix(bytes.TrimSpace(res.Stderr), []byte("#< CLIXML")):
		stderr = clixmlText(stderr)
	}
	e := newHostError(ErrHostFailed, h.name, what, fmt.Sprintf("PowerShell exited with %d and printed no result", res.ExitCode))
	if stderr != "" {
		e.Detail += ": " + clip(stderr, 500)
	}
	e.Hint = "Run the step by hand on the host to see the full error"
	return e
}

// clixmlText pulls the error text out of PowerShell's CLIXML stderr, which
// it writes when stderr is not a console.
func clixmlText(s string) string {
	var parts []string
	for _, seg := range strings.Split(s, `<S S="Error">`)[1:] {
		if i := strings.Index(seg, "</S>"); i >= 0 {
			t := strings.ReplaceAll(seg[:i], "_x000D__x000A_", " ")
			parts = append(parts, strings.TrimSpace(t))
		}
	}
	if len(parts) == 0 {
		return s
	}
	return strings.Join(parts, " ")
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// checkHostPath refuses a path the host could not take literally.
func (h *PSHost) checkHostPath(what, p string) error {
	if !hostpath.IsWindowsAbs(p) {
		return newHostError(ErrDiskNotFound, h.name, what,
			fmt.Sprintf("%q is not an absolute Windows path (D:\\VMs\\web01.vhdx or \\\\server\\share\\web01.vhdx)", p))
	}
	if strings.ContainsRune(p, 0) {
		return fmt.Errorf("%s: %s: %q contains a NUL character, which no Windows path can hold; nothing was run on the host", h.name, what, p)
	}
	return nil
}

// GetVM implements Host.
func (h *PSHost) GetVM(ctx context.Context, name string) (VM, error) {
	var v psVM
	if err := h.run(ctx, "get-vm", "get VM "+quoteName(name), []psParam{strParam("Name", name)}, &v); err != nil {
		return VM{}, err
	}
	return v.toVM(), nil
}

// ListSwitches implements Host.
func (h *PSHost) ListSwitches(ctx context.Context) ([]Switch, error) {
	var l psList[psSwitch]
	if err := h.run(ctx, "list-switches", "list virtual switches", nil, &l); err != nil {
		return nil, err
	}
	out := make([]Switch, 0, len(l))
	for _, s := range l {
		out = append(out, Switch{Name: s.Name, Type: SwitchType(s.SwitchType.Name), NetAdapter: s.NetAdapterInterfaceDescription})
	}
	return out, nil
}

// CreateVM implements Host.
func (h *PSHost) CreateVM(ctx context.Context, spec VMSpec) (VM, error) {
	what := "create VM " + quoteName(spec.Name)
	if err := spec.Validate(); err != nil {
		return VM{}, fmt.Errorf("%s: %s: %w", h.name, what, err)
	}
	for _, d := range spec.Disks {
		if err := h.checkHostPath(what, d.HostPath); err != nil {
			return VM{}, err
		}
	}
	params := []psParam{
		strParam("Name", spec.Name),
		intParam("Generation", int64(spec.Generation)),
		intParam("ProcessorCount", int64(spec.CPUCount)),
		intParam("MemoryStartupBytes", spec.MemoryBytes),
		boolParam("DynamicMemory", spec.DynamicMemory),
		intParam("MemoryMinimumBytes", spec.MemoryMinimum),
		intParam("MemoryMaximumBytes", spec.MemoryMaximum),
		strParam("Folder", spec.Folder),
		strParam("BootDisk", bootDisk(spec.Disks)),
		strParam("SecureBoot", spec.SecureBoot),
		strParam("SecureBootTemplate", spec.SecureBootTemplate),
		boolParam("HighlyAvailable", spec.HighlyAvailable),
		{Name: "Adapters", Value: psAdapters(spec.adapters())},
		{Name: "DvdDrives", Value: psSlots(spec.dvdDrives())},
		{Name: "Disks", Value: psDisks(spec.Disks)},
	}
	for _, a := range spec.adapters() {
		for _, v := range []string{a.Name, a.SwitchName, a.VLAN.Allowed} {
			if p := strParam("Adapters", v); p.Bad != "" {
				params = append(params, p)
			}
		}
	}
	var v psVM
	if err := h.run(ctx, "create-vm", what, params, &v); err != nil {
		var he *HostError
		if errors.As(err, &he) && he.Kind == ErrSwitchNotFound {
			sw := he.Target
			if sw == "" && len(spec.Switches()) > 0 {
				sw = spec.Switches()[0]
			}
			he.Hint = switchHint(sw, h.name)
		}
		return VM{}, err
	}
	return v.toVM(), nil
}

// AttachDisk implements Host.
func (h *PSHost) AttachDisk(ctx context.Context, vmName string, d DiskSpec) error {
	what := fmt.Sprintf("attach %s to VM %s", d.HostPath, quoteName(vmName))
	if err := h.checkHostPath(what, d.HostPath); err != nil {
		return err
	}
	if d.Type != IDE && d.Type != SCSI {
		return fmt.Errorf("%s: %s: controller type must be IDE or SCSI, not %q", h.name, what, d.Type)
	}
	return h.run(ctx, "attach-disk", what, []psParam{
		strParam("Name", vmName),
		strParam("Path", d.HostPath),
		strParam("ControllerType", string(d.Type)),
		intParam("ControllerNumber", int64(d.Number)),
		intParam("ControllerLocation", int64(d.Location)),
	}, nil)
}

// StartVM implements Host.
func (h *PSHost) StartVM(ctx context.Context, name string) error {
	var state string
	return h.run(ctx, "start-vm", "start VM "+quoteName(name), []psParam{strParam("Name", name)}, &state)
}

// ShutdownVM implements Host. ctx must allow for timeout plus the time the
// host takes to turn the VM off (a minute is ample). A Saved VM is turned
// off (Stop-VM -TurnOff), which deletes its saved state (see Host).
func (h *PSHost) ShutdownVM(ctx context.Context, name string, timeout time.Duration) (bool, error) {
	secs := int64((timeout + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	var r struct {
		Forced bool
		State  string
	}
	err := h.run(ctx, "stop-vm", "shut down VM "+quoteName(name), []psParam{strParam("Name", name), intParam("TimeoutSeconds", secs)}, &r)
	if err != nil {
		return false, err
	}
	if r.State != string(StateOff) {
		return r.Forced, newHostError(ErrBadState, h.name, "shut down VM "+quoteName(name), "the VM is "+r.State+" after being turned off")
	}
	return r.Forced, nil
}

// DiskInUse implements Host.
func (h *PSHost) DiskInUse(ctx context.Context, path string) (DiskUse, error) {
	what := "check whether " + path + " is in use"
	if err := h.checkHostPath(what, path); err != nil {
		return DiskUse{}, err
	}
	var r struct {
		Exists bool
		VMs    psList[string]
		Locked bool
		Reason string
	}
	if err := h.run(ctx, "disk-in-use", what, []psParam{strParam("Path", path)}, &r); err != nil {
		return DiskUse{}, err
	}
	u := DiskUse{Exists: r.Exists, VMs: r.VMs, Locked: r.Locked, Reason: r.Reason}
	u.InUse = len(u.VMs) > 0 || u.Locked
	if len(u.VMs) > 0 && u.Reason == "" {
		u.Reason = "attached to " + strings.Join(u.VMs, ", ") + ", which is not off"
	}
	return u, nil
}

// FreeSpace implements Host.
func (h *PSHost) FreeSpace(ctx context.Context, folder string) (Space, error) {
	what := "measure free space for " + folder
	if err := h.checkHostPath(what, folder); err != nil {
		return Space{}, err
	}
	var r struct {
		Volume    string
		DeviceID  string
		FreeSpace int64
		Capacity  int64
	}
	if err := h.run(ctx, "free-space", what, []psParam{strParam("Path", folder)}, &r); err != nil {
		return Space{}, err
	}
	vol := r.DeviceID
	if vol == "" {
		vol = r.Volume
	}
	return Space{Volume: vol, Free: r.FreeSpace, Total: r.Capacity}, nil
}

// DiscardSavedState implements Host.
func (h *PSHost) DiscardSavedState(ctx context.Context, name string) error {
	var state string
	what := "discard the saved state of VM " + quoteName(name)
	if err := h.run(ctx, "discard-saved-state", what, []psParam{strParam("Name", name)}, &state); err != nil {
		return err
	}
	if state != string(StateOff) {
		return newHostError(ErrBadState, h.name, what, "the VM is "+state+" afterwards")
	}
	return nil
}

// Info implements Host.
func (h *PSHost) Info(ctx context.Context) (HostInfo, error) {
	var r struct {
		Computer, Cluster, SiteRecovery string
		Nodes, CSVs                     psList[string]
	}
	if err := h.run(ctx, "host-info", "describe the host", nil, &r); err != nil {
		return HostInfo{}, err
	}
	return HostInfo{Computer: r.Computer, Cluster: r.Cluster, Nodes: r.Nodes, CSVs: r.CSVs, SiteRecovery: r.SiteRecovery}, nil
}

// switchHint is the exact PowerShell that creates a missing switch.
func switchHint(name, host string) string {
	return fmt.Sprintf("Create it on %s with the same name as on the original host, for example "+
		"New-VMSwitch -Name %s -NetAdapterName 'Ethernet' -AllowManagementOS $true (external; use Get-NetAdapter for the adapter name) "+
		"or New-VMSwitch -Name %s -SwitchType Internal", host, psQuote(name), psQuote(name))
}

func quoteName(s string) string { return "'" + s + "'" }

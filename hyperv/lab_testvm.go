package hyperv

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// What a lab host does for a test failback (TestHost): switches come and
// go in host.json, a removed VM's file goes (its disks stay), and a lab
// guest answers the checks after start as LabGuest says.

var _ TestHost = (*LabHost)(nil)

// LabGuest is how a lab VM's guest behaves once started, for drills of the
// checks after a test failback starts it.
type LabGuest struct {
	// NoHeartbeat: the guest never reports through the heartbeat service
	// (it did not boot, or has no integration services).
	NoHeartbeat bool `json:"no_heartbeat,omitempty"`
	// Ports are the TCP ports it listens on.
	Ports []int `json:"ports,omitempty"`
}

// guest is how the VM's guest behaves: its own LabGuest, else the one
// host.json's Guests gives its name.
func (v labVM) guest(cfg LabConfig) LabGuest {
	if v.Guest.NoHeartbeat || len(v.Guest.Ports) > 0 {
		return v.Guest
	}
	return cfg.Guests[strings.ToLower(v.Name)]
}

// SetGuest sets how a lab VM's guest behaves.
func (h *LabHost) SetGuest(ctx context.Context, name string, g LabGuest) error {
	v, unlock, err := h.lockVM(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	v.Guest = g
	return h.writeVM(v)
}

// EnsureSwitch implements TestHost.
func (h *LabHost) EnsureSwitch(ctx context.Context, name string, typ SwitchType) (Switch, bool, error) {
	if typ != SwitchPrivate && typ != SwitchInternal {
		return Switch{}, false, newHostError(ErrBadState, h.Name(), "create the test switch "+psQuote(name), "a test switch is Private or Internal, not "+string(typ))
	}
	unlock, err := h.lock(ctx, true)
	if err != nil {
		return Switch{}, false, err
	}
	defer unlock()
	cfg, err := h.config()
	if err != nil {
		return Switch{}, false, err
	}
	for _, s := range cfg.Switches {
		if strings.EqualFold(s.Name, name) {
			return s, false, nil
		}
	}
	sw := Switch{Name: name, Type: typ}
	cfg.Switches = append(cfg.Switches, sw)
	return sw, true, osfile.WriteJSON(filepath.Join(h.dir, labConfigName), cfg)
}

// RemoveSwitch implements TestHost.
func (h *LabHost) RemoveSwitch(ctx context.Context, name string) error {
	unlock, err := h.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	cfg, err := h.config()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(cfg.Switches, func(s Switch) bool { return strings.EqualFold(s.Name, name) })
	if i < 0 {
		return nil
	}
	vms, err := h.allVMs()
	if err != nil {
		return err
	}
	var users []string
	for _, v := range vms {
		if slices.ContainsFunc(v.Adapters, func(a Adapter) bool { return strings.EqualFold(a.SwitchName, name) }) {
			users = append(users, v.Name)
		}
	}
	if len(users) > 0 {
		return newHostError(ErrBadState, h.Name(), "remove the test switch "+psQuote(name), "it still connects "+strings.Join(users, ", "))
	}
	cfg.Switches = slices.Delete(cfg.Switches, i, i+1)
	return osfile.WriteJSON(filepath.Join(h.dir, labConfigName), cfg)
}

// CheckVM implements TestHost. A running lab guest whose heartbeat
// answers (not LabGuest.NoHeartbeat) reports one documentation address
// (192.0.2.x) per adapter; a port answers when the guest listens on it and an adapter
// is on a switch the host reaches (not Private). Nothing goes on the
// network.
func (h *LabHost) CheckVM(ctx context.Context, name string, ports []int, _ time.Duration) (VMCheck, error) {
	v, unlock, err := h.lockVM(ctx, name, false)
	if err != nil {
		return VMCheck{}, err
	}
	defer unlock()
	cfg, err := h.config()
	if err != nil {
		return VMCheck{}, err
	}
	g := v.guest(cfg)
	c := VMCheck{State: v.State}
	up := v.State == StateRunning && !g.NoHeartbeat
	reachable := false
	for i, a := range v.Adapters {
		if a.SwitchName == "" {
			continue
		}
		sw := Switch{Name: a.SwitchName}
		if k := slices.IndexFunc(cfg.Switches, func(s Switch) bool { return strings.EqualFold(s.Name, a.SwitchName) }); k >= 0 {
			sw = cfg.Switches[k]
		}
		c.Switches = append(c.Switches, sw)
		reachable = reachable || sw.Type != SwitchPrivate
		if up {
			c.Addresses = append(c.Addresses, fmt.Sprintf("192.0.2.%d", 10+i))
		}
	}
	for _, p := range ports {
		r := PortOpen{Port: p}
		switch {
		case len(c.Addresses) == 0:
			r.Detail = "the VM reports no IP address"
		case !reachable:
			r.Address, r.Detail = c.Addresses[0], "unreachable from the host: the VM's switches are private"
		case slices.Contains(g.Ports, p):
			r.Address, r.Open = c.Addresses[0], true
		default:
			r.Address, r.Detail = c.Addresses[0], "connection refused"
		}
		c.Ports = append(c.Ports, r)
	}
	return c, nil
}

package azure

import (
	"context"
	"errors"
	"strings"
)

// PowerState is a VM's power state as Azure reports it.
type PowerState string

// Power states. Azure reports more transitions (deallocating) than a
// failback needs to tell apart; they map onto these.
const (
	PowerRunning      PowerState = "running"
	PowerStarting     PowerState = "starting"
	PowerStopping     PowerState = "stopping"
	PowerStopped      PowerState = "stopped"
	PowerDeallocating PowerState = "deallocating"
	PowerDeallocated  PowerState = "deallocated"
	PowerUnknown      PowerState = "unknown"
)

// Off reports whether the VM no longer runs, so its disks no longer change.
func (p PowerState) Off() bool { return p == PowerStopped || p == PowerDeallocated }

// ParsePowerState maps an instance-view status code ("PowerState/running")
// or a bare state name to a PowerState.
func ParsePowerState(code string) PowerState {
	s := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(code), "PowerState/"))
	s = strings.TrimPrefix(s, "powerstate/")
	switch p := PowerState(s); p {
	case PowerRunning, PowerStarting, PowerStopping, PowerStopped, PowerDeallocating, PowerDeallocated:
		return p
	}
	return PowerUnknown
}

// ErrVMNotFound: the VM does not exist (never did, or was deleted).
var ErrVMNotFound = errors.New("VM not found")

// PowerOffOptions say how a VM is stopped.
type PowerOffOptions struct {
	// Deallocate releases the VM's compute (no more compute billing, but
	// a start may wait for capacity); otherwise it is powered off and
	// keeps its allocation, for a quick Undo.
	Deallocate bool
}

// DeleteOptions say what goes with a deleted VM.
type DeleteOptions struct {
	// KeepDisks keeps the VM's disks even where their deleteOption says
	// Delete (the option is set to Detach first).
	KeepDisks bool
}

// Compute controls the Azure VMs being failed back. Implementations: ARM
// (real subscriptions, and the lab's ARM endpoint) and LabVMs (the lab's
// simulated VMs, in process).
//
// PowerOff returns once the VM is off, so its disks no longer change;
// Start once it runs; Delete once it is gone. Each call is bounded by the
// caller's context and the implementation's own operation timeout. A VM
// that does not exist is ErrVMNotFound.
type Compute interface {
	State(ctx context.Context, vm VMRef) (PowerState, error)
	PowerOff(ctx context.Context, vm VMRef, o PowerOffOptions) error
	Start(ctx context.Context, vm VMRef) error
	Delete(ctx context.Context, vm VMRef, o DeleteOptions) error
	// Inspect reads the VM's storage profile and network interfaces.
	Inspect(ctx context.Context, vm VMRef) (VMInfo, error)
	// DeleteNIC deletes a network interface the deleted VM used, then the
	// public IP addresses it held; gone already is fine.
	DeleteNIC(ctx context.Context, nic NICRef) error
}

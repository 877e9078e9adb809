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

// Compute controls the Azure VMs being failed back. Implementations: ARM
// (real subscriptions) and LabCompute (the lab's simulated VMs).
//
// PowerOff returns once the VM is off, so its disks no longer change;
// Start once it runs; Delete once it is gone. Each call is bounded by the
// caller's context and the implementation's own operation timeout.
type Compute interface {
	State(ctx context.Context, vm string) (PowerState, error)
	PowerOff(ctx context.Context, vm string) error
	Start(ctx context.Context, vm string) error
	Delete(ctx context.Context, vm string) error
}

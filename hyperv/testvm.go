package hyperv

import (
	"context"
	"time"
)

// TestHost is what a test failback needs of a host besides Host: an
// isolated switch for the test VMs, their removal when the test ends, and
// the checks after they start. PSHost and LabHost implement it and pass
// hosttest.RunTestHostSuite.
type TestHost interface {
	Host
	// EnsureSwitch makes sure a switch of this name exists, creating it
	// with type typ (Private or Internal; never External, which would
	// reach the production network) when it is missing. created says it
	// was made now; sw is the switch as it is.
	EnsureSwitch(ctx context.Context, name string, typ SwitchType) (sw Switch, created bool, err error)
	// RemoveSwitch removes a switch no VM adapter is connected to; one in
	// use is refused (ErrBadState). A missing switch is not an error.
	RemoveSwitch(ctx context.Context, name string) error
	// RemoveVM removes a VM that is off (Remove-VM), its disk files too
	// with deleteDisks (removevm.go); a running VM is refused, a missing
	// one is ErrVMNotFound.
	RemoveVM(ctx context.Context, name string, deleteDisks bool) error
	// Heartbeat says whether the guest reports a heartbeat through its
	// integration services (heartbeat.go).
	Heartbeat(ctx context.Context, name string) (ok bool, detail string, err error)
	// CheckVM reports a VM's state, the addresses its adapters report,
	// its switches, and whether each of ports answers a TCP connection
	// from the host at those addresses within timeout.
	CheckVM(ctx context.Context, name string, ports []int, timeout time.Duration) (VMCheck, error)
}

// VMCheck is what CheckVM found.
type VMCheck struct {
	State VMState `json:"state"`
	// Addresses are the IP addresses the guest reports on its adapters
	// (through the data exchange integration service).
	Addresses []string `json:"addresses,omitempty"`
	// Switches are the switches of its adapters, with their types (a
	// Private switch is unreachable from the host).
	Switches []Switch   `json:"switches,omitempty"`
	Ports    []PortOpen `json:"ports,omitempty"`
}

// PortOpen is one TCP port checked from the host.
type PortOpen struct {
	Port int `json:"port"`
	// Address is where it answered (or the last tried); "" when the VM
	// reported none.
	Address string `json:"address,omitempty"`
	Open    bool   `json:"open"`
	Detail  string `json:"detail,omitempty"`
}

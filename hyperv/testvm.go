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
	// RemoveVM turns a VM off and removes it (Remove-VM): its
	// configuration goes, its disk files stay. A missing VM is not an
	// error.
	RemoveVM(ctx context.Context, name string) error
	// CheckVM reports a VM's state, its heartbeat integration service
	// (Get-VMIntegrationService, found by its ID: service names are
	// localized), the addresses its adapters report, and whether each of
	// ports answers a TCP connection from the host at those addresses
	// within timeout.
	CheckVM(ctx context.Context, name string, ports []int, timeout time.Duration) (VMCheck, error)
}

// HeartbeatServiceID is the heartbeat integration service's ID (the end of
// Get-VMIntegrationService's Id), the same on every host language.
const HeartbeatServiceID = "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47"

// VMCheck is what CheckVM found.
type VMCheck struct {
	State VMState `json:"state"`
	// Heartbeat is the heartbeat service's status ("Ok", "NoContact",
	// "LostCommunication"...), "" when the service is disabled;
	// HeartbeatText is the host's description of it.
	Heartbeat     string `json:"heartbeat"`
	HeartbeatText string `json:"heartbeat_text,omitempty"`
	// Addresses are the IP addresses the guest reports on its adapters
	// (through the data exchange integration service).
	Addresses []string `json:"addresses,omitempty"`
	// Switches are the switches of its adapters, with their types (a
	// Private switch is unreachable from the host).
	Switches []Switch   `json:"switches,omitempty"`
	Ports    []PortOpen `json:"ports,omitempty"`
}

// HeartbeatOK says the heartbeat service reports the guest healthy.
func (c VMCheck) HeartbeatOK() bool { return c.Heartbeat == "Ok" }

// PortOpen is one TCP port checked from the host.
type PortOpen struct {
	Port int `json:"port"`
	// Address is where it answered (or the last tried); "" when the VM
	// reported none.
	Address string `json:"address,omitempty"`
	Open    bool   `json:"open"`
	Detail  string `json:"detail,omitempty"`
}

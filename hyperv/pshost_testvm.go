package hyperv

import (
	"context"
	"strconv"
	"strings"
	"time"
)

var _ TestHost = (*PSHost)(nil)

// EnsureSwitch implements TestHost.
func (h *PSHost) EnsureSwitch(ctx context.Context, name string, typ SwitchType) (Switch, bool, error) {
	what := "create the test switch " + quoteName(name)
	if typ != SwitchPrivate && typ != SwitchInternal {
		return Switch{}, false, newHostError(ErrBadState, h.name, what, "a test switch is Private or Internal, not "+string(typ))
	}
	var r struct {
		Created                        bool
		Name, SwitchType               string
		NetAdapterInterfaceDescription string
	}
	if err := h.run(ctx, "ensure-switch", what, []psParam{strParam("Name", name), strParam("SwitchType", string(typ))}, &r); err != nil {
		return Switch{}, false, err
	}
	return Switch{Name: r.Name, Type: SwitchType(r.SwitchType), NetAdapter: r.NetAdapterInterfaceDescription}, r.Created, nil
}

// RemoveSwitch implements TestHost.
func (h *PSHost) RemoveSwitch(ctx context.Context, name string) error {
	var r struct{ Removed bool }
	return h.run(ctx, "remove-switch", "remove the test switch "+quoteName(name), []psParam{strParam("Name", name)}, &r)
}

// CheckVM implements TestHost. ctx must allow for one timeout per port
// and address.
func (h *PSHost) CheckVM(ctx context.Context, name string, ports []int, timeout time.Duration) (VMCheck, error) {
	var list []string
	for _, p := range ports {
		list = append(list, strconv.Itoa(p))
	}
	var r struct {
		State     string
		Addresses psList[string]
		Switches  psList[struct{ Name, SwitchType string }]
		Ports     psList[struct {
			Port    int
			Address string
			Open    bool
			Detail  string
		}]
	}
	err := h.run(ctx, "check-vm", "check VM "+quoteName(name), []psParam{
		strParam("Name", name),
		strParam("PortList", strings.Join(list, ",")),
		intParam("TimeoutMilliseconds", max(timeout.Milliseconds(), 1)),
	}, &r)
	if err != nil {
		return VMCheck{}, err
	}
	c := VMCheck{State: VMState(r.State), Addresses: r.Addresses}
	for _, s := range r.Switches {
		c.Switches = append(c.Switches, Switch{Name: s.Name, Type: SwitchType(s.SwitchType)})
	}
	for _, p := range r.Ports {
		c.Ports = append(c.Ports, PortOpen{Port: p.Port, Address: p.Address, Open: p.Open, Detail: p.Detail})
	}
	return c, nil
}

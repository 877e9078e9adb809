package hyperv

import (
	"fmt"
	"slices"
	"strings"
)

// doTest plays the operations of a test failback (ps/ensure-switch.ps1,
// remove-switch, remove-vm, heartbeat, check-vm) on the emulated host. Its
// guests report a heartbeat and an address per adapter once running, and
// listen on no port.
func (e *hvEmulator) doTest(op string, a map[string]any) (any, *psFailure, bool) {
	str := func(k string) string { s, _ := a[k].(string); return s }
	switchType := map[string]int{"Private": 0, "Internal": 1, "External": 2}
	typeName := func(t int) string { return []string{"Private", "Internal", "External"}[t] }
	findSwitch := func(name string) int {
		return slices.IndexFunc(e.switches, func(s emuSwitch) bool { return strings.EqualFold(s.Name, name) })
	}
	switch op {
	case "ensure-switch":
		t, ok := switchType[str("SwitchType")]
		if !ok || t == 2 {
			return nil, &psFailure{"BadState", fmt.Sprintf("A test switch is Private or Internal, not '%s'.", str("SwitchType")), "InvalidArgument"}, true
		}
		created := false
		i := findSwitch(str("Name"))
		if i < 0 {
			e.switches = append(e.switches, emuSwitch{str("Name"), t})
			i, created = len(e.switches)-1, true
		}
		s := e.switches[i]
		return map[string]any{"Created": created, "Name": s.Name, "SwitchType": typeName(s.Type), "NetAdapterInterfaceDescription": nil}, nil, true
	case "remove-switch":
		i := findSwitch(str("Name"))
		if i < 0 {
			return map[string]any{"Removed": false}, nil, true
		}
		var users []string
		for _, v := range e.vms {
			for _, ad := range v.Adapters {
				if sw, _ := ad["SwitchName"].(string); strings.EqualFold(sw, str("Name")) {
					users = append(users, v.Name)
				}
			}
		}
		if len(users) > 0 {
			return nil, &psFailure{"BadState", fmt.Sprintf("The virtual switch '%s' on %s still connects %s.", str("Name"), e.computer, strings.Join(users, ", ")), "ResourceBusy"}, true
		}
		e.switches = slices.Delete(e.switches, i, i+1)
		return map[string]any{"Removed": true}, nil, true
	case "remove-vm":
		v, f := e.find(str("Name"))
		if f != nil {
			return nil, f, true
		}
		if v.State != "Off" {
			return nil, &psFailure{"BadState", fmt.Sprintf("'%s' is %s on %s: it must be off to be removed.", v.Name, v.State, e.computer), "InvalidOperation"}, true
		}
		removed := []string{}
		if a["DeleteDisks"] == true {
			for _, d := range v.Drives {
				if e.removeFile(d.Path) == nil {
					removed = append(removed, d.Path)
				}
			}
		}
		e.vms = slices.DeleteFunc(e.vms, func(x *emuVM) bool { return x == v })
		return map[string]any{"Name": v.Name, "Disks": removed}, nil, true
	case "heartbeat":
		v, f := e.find(str("Name"))
		if f != nil {
			return nil, f, true
		}
		status := "No Contact"
		if v.State == "Running" {
			status = "OK"
		}
		return map[string]any{"State": v.State, "Enabled": true, "Status": status}, nil, true
	case "check-vm":
		v, f := e.find(str("Name"))
		if f != nil {
			return nil, f, true
		}
		up := v.State == "Running"
		addrs := []string{}
		sws := []map[string]any{}
		for i, ad := range v.Adapters {
			sw, _ := ad["SwitchName"].(string)
			if sw == "" {
				continue
			}
			t := ""
			if k := findSwitch(sw); k >= 0 {
				t = typeName(e.switches[k].Type)
			}
			sws = append(sws, map[string]any{"Name": sw, "SwitchType": t})
			if up {
				addrs = append(addrs, fmt.Sprintf("192.0.2.%d", 10+i))
			}
		}
		ports := []map[string]any{}
		for _, p := range strings.Split(str("PortList"), ",") {
			if p == "" {
				continue
			}
			var n int
			fmt.Sscan(p, &n)
			r := map[string]any{"Port": n, "Address": "", "Open": false, "Detail": "the VM reports no IP address"}
			if len(addrs) > 0 {
				r["Address"], r["Detail"] = addrs[len(addrs)-1], fmt.Sprintf("no answer within %d ms", a["TimeoutMilliseconds"])
			}
			ports = append(ports, r)
		}
		return map[string]any{"State": v.State, "Addresses": addrs, "Switches": sws, "Ports": ports}, nil, true
	}
	return nil, nil, false
}

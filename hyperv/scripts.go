package hyperv

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

// The script bodies live in ps/*.ps1 so they read (and can be tried by
// hand on a host) as PowerShell; Go only prepends the arguments.
//
//go:embed ps/*.ps1
var psFiles embed.FS

// psParam is one script argument: a variable name and a value already
// rendered as a PowerShell literal by psQuote, psInt, psBool or psDisks.
type psParam struct {
	Name  string
	Value string
	// Bad says why the value cannot be sent (PSHost.run refuses it).
	Bad string
}

// strParam quotes a string argument. A NUL cannot reach PowerShell (psQuote
// drops it, and "web\x0001" would become another VM, "web01"), so such a
// value is marked and never sent.
func strParam(name, v string) psParam {
	p := psParam{Name: name, Value: psQuote(v)}
	if strings.ContainsRune(v, 0) {
		p.Bad = fmt.Sprintf("%q contains a NUL character, which no Hyper-V name or Windows path can hold", v)
	}
	return p
}

func intParam(name string, v int64) psParam { return psParam{Name: name, Value: psInt(v)} }
func boolParam(name string, v bool) psParam { return psParam{Name: name, Value: psBool(v)} }

// scriptLibs says which shared files each operation needs besides common.ps1.
var scriptLibs = map[string][]string{
	"get-vm":        {"vm"},
	"list-switches": nil,
	"create-vm":     {"vm"},
	"attach-disk":   {"vm"},
	"start-vm":      {"vm"},
	"stop-vm":       {"vm"},
	"disk-in-use":   nil,
	"free-space":    {"vm"},
	"host-info":     {"vm"},
	"heartbeat":     {"vm"},
	"remove-vm":     {"vm"},

	"discard-saved-state": {"vm"},
	"begin-cycle":         {"vm", "cycle"},
	"end-cycle":           {"vm", "cycle"},

	// A test failback's (testvm.go).
	"ensure-switch": nil,
	"remove-switch": nil,
	"check-vm":      {"vm"},
}

// buildScript assembles the script of an operation: a header naming it,
// the arguments as variable assignments of literals, the shared functions,
// and the body inside a try/catch that reports any error as JSON.
func buildScript(op string, params []psParam) string {
	libs, ok := scriptLibs[op]
	if !ok {
		panic("hyperv: no script for " + op) // a programming error, not input
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# failback %s: generated; every argument is a single-quoted literal or a number.\n", op)
	for _, p := range params {
		fmt.Fprintf(&b, "$%s = %s\n", p.Name, p.Value)
	}
	b.WriteString("\n")
	b.WriteString(psFile("common"))
	for _, l := range libs {
		b.WriteString("\n")
		b.WriteString(psFile(l))
	}
	b.WriteString("\ntry {\n")
	for _, line := range strings.SplitAfter(psFile(op), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("    ")
		}
		b.WriteString(line)
	}
	b.WriteString("} catch {\n    Write-FailbackError $_\n}\n")
	return b.String()
}

func psFile(name string) string {
	b, err := psFiles.ReadFile("ps/" + name + ".ps1")
	if err != nil {
		panic("hyperv: missing embedded script " + name) // caught by every test
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// psDisks renders disks as an array of hashtable literals, one a line.
func psDisks(disks []DiskSpec) string {
	if len(disks) == 0 {
		return "@()"
	}
	var b strings.Builder
	b.WriteString("@(\n")
	for i, d := range disks {
		fmt.Fprintf(&b, "    @{ Path = %s; SizeBytes = %s; Fixed = %s; Existing = %s; ControllerType = %s; ControllerNumber = %s; ControllerLocation = %s }",
			psQuote(d.HostPath), psInt(d.VirtualSize), psBool(d.Fixed), psBool(d.Existing),
			psQuote(string(d.Type)), psInt(int64(d.Number)), psInt(int64(d.Location)))
		if i < len(disks)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")")
	return b.String()
}

// psAdapters renders network adapters as an array of hashtable literals.
func psAdapters(as []AdapterSpec) string {
	var rows []string
	for _, a := range as {
		mode := a.VLAN.Mode
		if mode == "Untagged" {
			mode = ""
		}
		mac := ""
		if a.MAC != "" {
			mac = normMAC(a.MAC)
		}
		rows = append(rows, fmt.Sprintf("@{ Name = %s; SwitchName = %s; StaticMac = %s; VlanMode = %s; AccessVlanId = %s; NativeVlanId = %s; AllowedVlanIdList = %s }",
			psQuote(a.Name), psQuote(a.SwitchName), psQuote(mac), psQuote(mode), psInt(int64(a.VLAN.AccessID)),
			psInt(int64(a.VLAN.NativeID)), psQuote(a.VLAN.Allowed)))
	}
	return psArray(rows)
}

// psSlots renders controller slots (DVD drives) as hashtable literals.
func psSlots(cs []Controller) string {
	var rows []string
	for _, c := range cs {
		rows = append(rows, fmt.Sprintf("@{ ControllerType = %s; ControllerNumber = %s; ControllerLocation = %s }",
			psQuote(string(c.Type)), psInt(int64(c.Number)), psInt(int64(c.Location))))
	}
	return psArray(rows)
}

// psStrings renders strings as an array of quoted literals.
func psStrings(vs []string) string {
	var rows []string
	for _, v := range vs {
		rows = append(rows, psQuote(v))
	}
	return psArray(rows)
}

// psArray is @() of literals, one a line.
func psArray(rows []string) string {
	if len(rows) == 0 {
		return "@()"
	}
	return "@(\n    " + strings.Join(rows, ",\n    ") + "\n)"
}

// bootDisk is the disk a generation 2 VM boots from: the first in slot
// order (IDE before SCSI, then controller number, then location).
func bootDisk(disks []DiskSpec) string {
	if len(disks) == 0 {
		return ""
	}
	d := append([]DiskSpec(nil), disks...)
	sort.SliceStable(d, func(i, j int) bool {
		a, b := d[i].Controller, d[j].Controller
		if a.Type != b.Type {
			return a.Type == IDE
		}
		if a.Number != b.Number {
			return a.Number < b.Number
		}
		return a.Location < b.Location
	})
	return d[0].HostPath
}

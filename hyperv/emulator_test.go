package hyperv

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// hvEmulator is a Runner that plays a Hyper-V host for the behaviour
// suite: it reads the operation and the arguments of each script (with the
// PowerShell literal reader of psparse_test.go), keeps VMs, switches and
// disk files in memory, and prints what ps/*.ps1 would print, in the shape
// of the recorded outputs (TestEmulatorMatchesRecordedShapes holds it to
// that). It does not run the PowerShell bodies: those are proven only by
// the golden files and by hand on a real host.
type hvEmulator struct {
	mu       sync.Mutex
	computer string
	switches []emuSwitch
	vms      []*emuVM
	files    map[string]*emuFile
	free     int64
	capacity int64
}

type emuSwitch struct {
	Name string
	Type int
}

type emuVM struct {
	Name, ID, State string
	Gen, CPU, Mem   int64
	Dynamic         bool
	Folder          string
	Drives          []emuDrive
	Adapters        []map[string]any
	DVDs            []map[string]any
	MemMin, MemMax  int64
	SecureBoot      string
	Template        string
	HA              bool
	Created         time.Time
}

type emuDrive struct {
	Type             string
	Number, Location int64
	Path             string
}

type emuFile struct {
	Size  int64
	Fixed bool
}

func newHVEmulator() *hvEmulator {
	return &hvEmulator{
		computer: "HV01",
		switches: []emuSwitch{{"LAN", 2}, {"Internal", 1}},
		files:    map[string]*emuFile{},
		free:     400 << 30,
		capacity: 1 << 40,
	}
}

func (e *hvEmulator) Describe() string { return "Hyper-V emulator" }

// psFailure is an error the way Stop-Failback reports it.
type psFailure struct{ typ, msg, category string }

func (e *hvEmulator) Run(ctx context.Context, script string) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	op, args, err := parseScript(script)
	if err != nil {
		return Output{}, fmt.Errorf("emulator: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	res, fail := e.do(op, args)
	var b []byte
	exit := 0
	if fail != nil {
		b, _ = json.Marshal(map[string]any{"error": map[string]string{"type": fail.typ, "message": fail.msg, "category": fail.category, "id": "", "target": ""}})
		exit = 1
	} else {
		b, _ = json.Marshal(map[string]any{"ok": res})
	}
	return Output{Stdout: append(b, '\r', '\n'), ExitCode: exit}, nil
}

func (e *hvEmulator) find(name string) (*emuVM, *psFailure) {
	for _, v := range e.vms {
		if strings.EqualFold(v.Name, name) {
			return v, nil
		}
	}
	return nil, &psFailure{"VMNotFound", fmt.Sprintf("There is no virtual machine named '%s' on %s.", name, e.computer), "ObjectNotFound"}
}

func (e *hvEmulator) file(p string) *emuFile { return e.files[strings.ToLower(p)] }

func (e *hvEmulator) removeFile(p string) error {
	if e.file(p) == nil {
		return fmt.Errorf("%s does not exist", p)
	}
	delete(e.files, strings.ToLower(p))
	return nil
}

func (e *hvEmulator) do(op string, a map[string]any) (any, *psFailure) {
	str := func(k string) string { s, _ := a[k].(string); return s }
	num := func(k string) int64 { n, _ := a[k].(int64); return n }
	switch op {
	case "get-vm":
		v, f := e.find(str("Name"))
		if f != nil {
			return nil, f
		}
		return e.vmJSON(v), nil
	case "list-switches":
		out := []map[string]any{}
		for i, s := range e.switches {
			out = append(out, map[string]any{"Name": s.Name, "Id": fmt.Sprintf("00000000-0000-0000-0000-%012d", i), "SwitchType": s.Type, "NetAdapterInterfaceDescription": nil})
		}
		return out, nil
	case "create-vm":
		return e.create(a)
	case "attach-disk":
		v, f := e.find(str("Name"))
		if f != nil {
			return nil, f
		}
		if e.file(str("Path")) == nil {
			return nil, &psFailure{"DiskNotFound", "The disk '" + str("Path") + "' does not exist.", "ObjectNotFound"}
		}
		v.Drives = append(v.Drives, emuDrive{str("ControllerType"), num("ControllerNumber"), num("ControllerLocation"), str("Path")})
		return true, nil
	case "start-vm":
		v, f := e.find(str("Name"))
		if f != nil {
			return nil, f
		}
		for _, d := range v.Drives {
			if e.file(d.Path) == nil {
				return nil, &psFailure{"DiskNotFound", "The disk '" + d.Path + "' does not exist.", "ObjectNotFound"}
			}
		}
		v.State = "Running"
		return v.State, nil
	case "stop-vm":
		v, f := e.find(str("Name"))
		if f != nil {
			return nil, f
		}
		v.State = "Off"
		return map[string]any{"Forced": false, "State": v.State}, nil
	case "disk-in-use":
		p := str("Path")
		users := []string{}
		for _, v := range e.vms {
			for _, d := range v.Drives {
				if v.State != "Off" && strings.EqualFold(d.Path, p) {
					users = append(users, v.Name)
				}
			}
		}
		reason := ""
		if len(users) > 0 {
			reason = "The process cannot access the file '" + p + "' because it is being used by another process."
		}
		return map[string]any{"Path": p, "Exists": e.file(p) != nil, "VMs": users, "Locked": len(users) > 0, "Reason": reason}, nil
	case "host-info":
		return map[string]any{"Computer": e.computer, "Cluster": "", "Nodes": []string{}, "CSVs": []string{}, "SiteRecovery": ""}, nil
	case "discard-saved-state":
		v, f := e.find(str("Name"))
		if f != nil {
			return nil, f
		}
		if v.State != "Off" && v.State != "Saved" && v.State != "Paused" {
			return nil, &psFailure{"BadState", "The virtual machine '" + v.Name + "' is " + v.State + ": only a Saved or Paused VM has a state to discard.", "InvalidOperation"}
		}
		v.State = "Off"
		return v.State, nil
	case "free-space":
		return map[string]any{"Path": str("Path"), "Volume": `C:\`, "DeviceID": `\\?\Volume{00000000-0000-0000-0000-000000000001}\`, "FreeSpace": e.free, "Capacity": e.capacity}, nil
	}
	if res, f, ok := e.doTest(op, a); ok {
		return res, f
	}
	return nil, &psFailure{"System.Management.Automation.CommandNotFoundException", "unknown operation " + op, "ObjectNotFound"}
}

func (e *hvEmulator) create(a map[string]any) (any, *psFailure) {
	name, _ := a["Name"].(string)
	if _, f := e.find(name); f == nil {
		return nil, &psFailure{"VMExists", fmt.Sprintf("A virtual machine named '%s' already exists on %s.", name, e.computer), "ResourceExists"}
	}
	if a["HighlyAvailable"] == true {
		return nil, &psFailure{"BadState", e.computer + " is not a running node of a failover cluster: the VM cannot be made highly available.", "InvalidOperation"}
	}
	adapters, _ := a["Adapters"].([]map[string]any)
	for _, ad := range adapters {
		sw, _ := ad["SwitchName"].(string)
		found := sw == ""
		for _, s := range e.switches {
			found = found || strings.EqualFold(s.Name, sw)
		}
		if !found {
			return nil, &psFailure{"SwitchNotFound", fmt.Sprintf("There is no virtual switch named '%s' on %s.", sw, e.computer), "ObjectNotFound"}
		}
	}
	dvds, _ := a["DvdDrives"].([]map[string]any)
	disks, _ := a["Disks"].([]map[string]any)
	for _, d := range disks {
		p := d["Path"].(string)
		exists := e.file(p) != nil
		if d["Existing"] == true && !exists {
			return nil, &psFailure{"DiskNotFound", "The disk '" + p + "' does not exist.", "ObjectNotFound"}
		}
		if d["Existing"] != true && exists {
			return nil, &psFailure{"DiskExists", "The disk '" + p + "' already exists; failback does not overwrite it.", "ResourceExists"}
		}
	}
	v := &emuVM{Name: name, ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", len(e.vms)+1), State: "Off",
		Gen: a["Generation"].(int64), CPU: a["ProcessorCount"].(int64), Mem: a["MemoryStartupBytes"].(int64),
		Dynamic: a["DynamicMemory"] == true, Folder: a["Folder"].(string), Adapters: adapters, DVDs: dvds, Created: time.UnixMilli(1718021112000)}
	v.MemMin, v.MemMax = a["MemoryMinimumBytes"].(int64), a["MemoryMaximumBytes"].(int64)
	if !v.Dynamic || v.MemMin == 0 {
		v.MemMin = 512 << 20
	}
	if !v.Dynamic || v.MemMax == 0 {
		v.MemMax = 1 << 40
	}
	v.SecureBoot, _ = a["SecureBoot"].(string)
	v.Template, _ = a["SecureBootTemplate"].(string)
	for _, d := range disks {
		p := d["Path"].(string)
		if d["Existing"] != true {
			e.files[strings.ToLower(p)] = &emuFile{Size: d["SizeBytes"].(int64), Fixed: d["Fixed"] == true}
		}
		v.Drives = append(v.Drives, emuDrive{d["ControllerType"].(string), d["ControllerNumber"].(int64), d["ControllerLocation"].(int64), p})
	}
	e.vms = append(e.vms, v)
	return e.vmJSON(v), nil
}

// vmJSON is ConvertTo-FailbackVM's output: enums as numbers, the state's
// name beside it, the date as Windows PowerShell 5.1 writes it.
func (e *hvEmulator) vmJSON(v *emuVM) map[string]any {
	states := map[string]int{"Running": 2, "Off": 3, "Saved": 6, "Paused": 9}
	drives := []map[string]any{}
	for _, d := range v.Drives {
		ct := 0
		if d.Type == "SCSI" {
			ct = 1
		}
		var vhd any
		problem := ""
		if f := e.file(d.Path); f != nil {
			typ, fsize := 3, int64(4<<20)
			if f.Fixed {
				typ, fsize = 2, f.Size+4<<20
			}
			vhd = map[string]any{"VhdFormat": 3, "VhdType": typ, "Size": f.Size, "FileSize": fsize, "ParentPath": ""}
		} else {
			problem = "The system cannot find the file specified."
		}
		drives = append(drives, map[string]any{"ControllerType": ct, "ControllerNumber": d.Number, "ControllerLocation": d.Location, "Path": d.Path, "Vhd": vhd, "Problem": problem})
	}
	nics := []map[string]any{}
	for i, ad := range v.Adapters {
		mac, static := ad["StaticMac"].(string), true
		if mac == "" {
			mac, static = fmt.Sprintf("00155D0000%02X", i+1), false
		}
		mode, _ := ad["VlanMode"].(string)
		if mode == "" {
			mode = "Untagged"
		}
		nics = append(nics, map[string]any{"Name": ad["Name"], "SwitchName": ad["SwitchName"], "MacAddress": mac, "DynamicMacAddressEnabled": !static,
			"Vlan": map[string]any{"OperationMode": mode, "AccessVlanId": ad["AccessVlanId"], "NativeVlanId": ad["NativeVlanId"], "AllowedVlanIdList": ad["AllowedVlanIdList"], "Private": ""}})
	}
	dvds := []map[string]any{}
	for _, d := range v.DVDs {
		dvds = append(dvds, map[string]any{"ControllerType": d["ControllerType"], "ControllerNumber": d["ControllerNumber"], "ControllerLocation": d["ControllerLocation"]})
	}
	secureBoot, template := "", ""
	if v.Gen == 2 {
		secureBoot, template = orStr(v.SecureBoot, "On"), orStr(v.Template, "MicrosoftWindows")
	}
	return map[string]any{
		"Name": v.Name, "Id": v.ID, "State": states[v.State], "StateName": v.State, "Generation": v.Gen,
		"ProcessorCount": v.CPU, "MemoryStartup": v.Mem, "DynamicMemoryEnabled": v.Dynamic, "MemoryMinimum": v.MemMin, "MemoryMaximum": v.MemMax,
		"Path": v.Folder, "CreationTime": fmt.Sprintf("/Date(%d)/", v.Created.UnixMilli()), "HardDrives": drives, "DvdDrives": dvds,
		"NetworkAdapters": nics, "Checkpoints": []any{}, "SecureBoot": secureBoot, "SecureBootTemplate": template,
		"Replication": nil, "IsClustered": v.HA, "ComputerName": e.computer,
	}
}

// jsonShape lists the key paths of a JSON document ("ok.HardDrives[].Vhd.Size").
func jsonShape(b []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := strings.TrimPrefix(prefix+"."+k, ".")
				set[p] = true
				walk(p, c)
			}
		case []any:
			for _, c := range x {
				walk(prefix+"[]", c)
			}
		}
	}
	walk("", v)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func orStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

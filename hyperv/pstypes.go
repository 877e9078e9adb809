package hyperv

import "strings"

// The shapes our scripts print (ps/vm.ps1 and friends): Hyper-V's own
// property names and values (enums, bytes, dates), selected and nested.

type psVM struct {
	Name                 string
	ID                   string `json:"Id"`
	State                vmStateEnum
	StateName            string
	Generation           int
	ProcessorCount       int
	MemoryStartup        int64
	DynamicMemoryEnabled bool
	Path                 string
	CreationTime         psDate
	HardDrives           psList[psDrive]
	NetworkAdapters      psList[psAdapter]
}

type psDrive struct {
	ControllerType     controllerEnum
	ControllerNumber   int
	ControllerLocation int
	Path               string
	Vhd                *psVHD
	Problem            string
}

type psVHD struct {
	VhdFormat vhdFormatEnum
	VhdType   vhdTypeEnum
	Size      int64
	FileSize  int64
}

type psAdapter struct {
	Name       string
	SwitchName string
	MacAddress string
}

type psSwitch struct {
	Name                           string
	ID                             string `json:"Id"`
	SwitchType                     switchTypeEnum
	NetAdapterInterfaceDescription string
}

func (v psVM) toVM() VM {
	state := v.State.Name
	if v.StateName != "" {
		state = v.StateName // the name is stable across Windows versions
	}
	vm := VM{
		Name:          v.Name,
		ID:            strings.ToLower(v.ID),
		State:         VMState(state),
		Generation:    v.Generation,
		CPUCount:      v.ProcessorCount,
		MemoryBytes:   v.MemoryStartup,
		DynamicMemory: v.DynamicMemoryEnabled,
		Path:          v.Path,
		Created:       v.CreationTime.Time,
		Disks:         []Disk{},
		Adapters:      []Adapter{},
	}
	for _, d := range v.HardDrives {
		disk := Disk{
			HostPath:   d.Path,
			Controller: Controller{Type: ControllerType(d.ControllerType.Name), Number: d.ControllerNumber, Location: d.ControllerLocation},
			Problem:    d.Problem,
		}
		if d.Vhd != nil {
			disk.VirtualSize = d.Vhd.Size
			disk.FileSize = d.Vhd.FileSize
			disk.Format = d.Vhd.VhdFormat.Name
			disk.Fixed = d.Vhd.VhdType.Name == "Fixed"
		}
		vm.Disks = append(vm.Disks, disk)
	}
	for _, a := range v.NetworkAdapters {
		vm.Adapters = append(vm.Adapters, Adapter{Name: a.Name, SwitchName: a.SwitchName, MAC: a.MacAddress})
	}
	return vm
}

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
	MemoryMinimum        int64
	MemoryMaximum        int64
	Path                 string
	CreationTime         psDate
	HardDrives           psList[psDrive]
	DvdDrives            psList[psSlot]
	NetworkAdapters      psList[psAdapter]
	Checkpoints          psList[psCheckpoint]
	SecureBoot           string
	SecureBootTemplate   string
	Replication          *psReplication
	IsClustered          bool
	ComputerName         string
}

type psReplication struct {
	Mode, State, Health, PrimaryServer, ReplicaServer string
}

type psSlot struct {
	ControllerType     controllerEnum
	ControllerNumber   int
	ControllerLocation int
}

type psCheckpoint struct {
	Name         string
	SnapshotType string
	CreationTime psDate
}

type psVLAN struct {
	OperationMode     string
	AccessVlanId      int
	NativeVlanId      int
	AllowedVlanIdList string
	Private           string
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
	VhdFormat  vhdFormatEnum
	VhdType    vhdTypeEnum
	Size       int64
	FileSize   int64
	ParentPath string
}

type psAdapter struct {
	Name                     string
	SwitchName               string
	MacAddress               string
	DynamicMacAddressEnabled *bool
	Vlan                     *psVLAN
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
		MemoryMinimum: v.MemoryMinimum,
		MemoryMaximum: v.MemoryMaximum,
		Path:          v.Path,
		Created:       v.CreationTime.Time,
		Disks:         []Disk{},
		Adapters:      []Adapter{},
		SecureBoot:    v.SecureBoot,
		Clustered:     v.IsClustered,
		Node:          v.ComputerName,

		SecureBootTemplate: v.SecureBootTemplate,
	}
	if r := v.Replication; r != nil {
		vm.Replication = &Replication{Mode: r.Mode, State: r.State, Health: r.Health, PrimaryServer: r.PrimaryServer, ReplicaServer: r.ReplicaServer}
	}
	for _, c := range v.DvdDrives {
		vm.DVDDrives = append(vm.DVDDrives, Controller{Type: ControllerType(c.ControllerType.Name), Number: c.ControllerNumber, Location: c.ControllerLocation})
	}
	for _, c := range v.Checkpoints {
		vm.Checkpoints = append(vm.Checkpoints, Checkpoint{Name: c.Name, Type: c.SnapshotType, Created: c.CreationTime.Time})
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
			disk.ParentPath = d.Vhd.ParentPath
		}
		vm.Disks = append(vm.Disks, disk)
	}
	for _, a := range v.NetworkAdapters {
		ad := Adapter{Name: a.Name, SwitchName: a.SwitchName, MAC: a.MacAddress}
		ad.StaticMAC = a.DynamicMacAddressEnabled != nil && !*a.DynamicMacAddressEnabled
		if l := a.Vlan; l != nil {
			ad.VLAN = VLAN{Mode: l.OperationMode, AccessID: l.AccessVlanId, NativeID: l.NativeVlanId, Allowed: l.AllowedVlanIdList, Private: l.Private}
			if ad.VLAN.Mode == "Untagged" {
				ad.VLAN = VLAN{}
			}
		}
		vm.Adapters = append(vm.Adapters, ad)
	}
	return vm
}

# failback create-vm: generated; every argument is a single-quoted literal or a number.
$Name = 'fw01'
$Generation = 2
$ProcessorCount = 2
$MemoryStartupBytes = 2147483648
$DynamicMemory = $true
$MemoryMinimumBytes = 1073741824
$MemoryMaximumBytes = 4294967296
$Folder = 'E:\Failback'
$BootDisk = 'E:\Failback\fw01\fw01.vhdx'
$SecureBoot = 'Off'
$SecureBootTemplate = 'MicrosoftUEFICertificateAuthority'
$HighlyAvailable = $false
$Adapters = @(
    @{ Name = 'LAN'; SwitchName = 'LAN'; StaticMac = '00155D0A1B40'; VlanMode = 'Access'; AccessVlanId = 20; NativeVlanId = 0; AllowedVlanIdList = '' },
    @{ Name = 'DMZ'; SwitchName = 'DMZ-B'; StaticMac = ''; VlanMode = 'Trunk'; AccessVlanId = 0; NativeVlanId = 1; AllowedVlanIdList = '100,200,201,202' }
)
$DvdDrives = @()
$Disks = @(
    @{ Path = 'E:\Failback\fw01\fw01.vhdx'; SizeBytes = 17179869184; Fixed = $false; Existing = $false; ControllerType = 'SCSI'; ControllerNumber = 0; ControllerLocation = 0 }
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
# Windows PowerShell 5.1 serialises some arrays as {"value":[...],"Count":n}
# because of this type data; without it arrays stay arrays. (PowerShell 7
# has none, and the failure to remove it is of no interest.)
try { Remove-TypeData -TypeName System.Array -ErrorAction Stop } catch { }

# One line of ASCII JSON on stdout: non-ASCII characters are escaped so the
# console code page cannot mangle names.
function Write-FailbackJson($Value) {
    $json = ConvertTo-Json -InputObject $Value -Depth 8 -Compress
    $json = [regex]::Replace($json, '[^\u0000-\u007F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
    [Console]::Out.WriteLine($json)
}

function Write-FailbackResult($Value) {
    Write-FailbackJson ([ordered]@{ ok = $Value })
    exit 0
}

# Stop-Failback reports an error this script classified itself; Target
# names what it is about when the message alone would not do (the node
# that owns a clustered VM).
function Stop-Failback([string]$Type, [string]$Message, [string]$Category, [string]$Target = '') {
    Write-FailbackJson ([ordered]@{ error = [ordered]@{ type = $Type; message = $Message; category = $Category; id = ''; target = $Target } })
    exit 1
}

# Write-FailbackError reports any other error with PowerShell's own
# classification, which the console maps without reading the message.
function Write-FailbackError($Record) {
    $target = ''
    if ($null -ne $Record.TargetObject) { $target = [string]$Record.TargetObject }
    Write-FailbackJson ([ordered]@{ error = [ordered]@{
        type = $Record.Exception.GetType().FullName
        message = $Record.Exception.Message
        category = [string]$Record.CategoryInfo.Category
        id = [string]$Record.FullyQualifiedErrorId
        target = $target
    } })
    exit 1
}

function Assert-HyperV {
    if (-not (Get-Module -ListAvailable -Name Hyper-V)) {
        Stop-Failback 'ModuleMissing' ("The Hyper-V PowerShell module is not installed on {0}." -f $env:COMPUTERNAME) 'NotInstalled'
    }
    Import-Module -Name Hyper-V
    $principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
    $admin = $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
    $hvAdmin = $principal.IsInRole([Security.Principal.SecurityIdentifier]'S-1-5-32-578')
    if (-not ($admin -or $hvAdmin)) {
        Stop-Failback 'AccessDenied' ("{0} is neither an elevated Administrator nor a member of Hyper-V Administrators on {1}." -f $principal.Identity.Name, $env:COMPUTERNAME) 'PermissionDenied'
    }
}

# Find-FailbackVM matches the name exactly: Get-VM -Name would treat
# [ ] * ? as wildcards. On a failover cluster node Get-VM sees only this
# node's VMs: a clustered VM that another node owns is reported with its
# owner, so that the console can go there instead.
function Find-FailbackVM([string]$VMName) {
    $found = @(Get-VM | Where-Object { $_.Name -eq $VMName })
    if ($found.Count -eq 0) {
        $owner = Get-FailbackClusterOwner $VMName
        if ($owner) {
            Stop-Failback 'VMOnOtherNode' ("The virtual machine '{0}' is a role of cluster {1} owned by node {2}, not by {3}." -f $VMName, $owner.Cluster, $owner.Node, $env:COMPUTERNAME) 'ObjectNotFound' $owner.Node
        }
        Stop-Failback 'VMNotFound' ("There is no virtual machine named '{0}' on {1}." -f $VMName, $env:COMPUTERNAME) 'ObjectNotFound'
    }
    if ($found.Count -gt 1) {
        Stop-Failback 'Ambiguous' ("{0} virtual machines are named '{1}' on {2}; rename all but one." -f $found.Count, $VMName, $env:COMPUTERNAME) 'InvalidResult'
    }
    $found[0]
}

# Get-FailbackCluster returns the failover cluster this host is a running
# node of, or $null. Errors of a node whose cluster service runs are real
# errors and stop the script.
function Get-FailbackCluster {
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    if (-not $service -or [string]$service.Status -ne 'Running') { return $null }
    Import-Module -Name 'FailoverClusters'
    Get-Cluster
}

# Get-FailbackClusterOwner finds the node owning the virtual machine role
# named like the VM (the name Add-ClusterVirtualMachineRole gives it).
function Get-FailbackClusterOwner([string]$VMName) {
    $cluster = Get-FailbackCluster
    if (-not $cluster) { return $null }
    $groups = @(Get-ClusterGroup | Where-Object { [string]$_.GroupType -eq 'VirtualMachine' -and $_.Name -eq $VMName })
    if ($groups.Count -eq 0) { return $null }
    [pscustomobject]@{ Cluster = [string]$cluster.Name; Node = [string]$groups[0].OwnerNode }
}

function ConvertTo-FailbackVM($VM) {
    $drives = @(Get-VMHardDiskDrive -VM $VM | ForEach-Object {
        $drive = $_
        $vhd = $null
        $problem = ''
        if ($drive.Path) {
            try { $vhd = Get-VHD -Path $drive.Path | Select-Object 'VhdFormat', 'VhdType', 'Size', 'FileSize', 'ParentPath' }
            catch { $problem = $_.Exception.Message }
        }
        [pscustomobject]@{
            ControllerType = $drive.ControllerType
            ControllerNumber = $drive.ControllerNumber
            ControllerLocation = $drive.ControllerLocation
            Path = $drive.Path
            Vhd = $vhd
            Problem = $problem
        }
    })
    $dvds = @(Get-VMDvdDrive -VM $VM | ForEach-Object {
        [pscustomobject]@{ ControllerType = [string]$_.ControllerType; ControllerNumber = $_.ControllerNumber; ControllerLocation = $_.ControllerLocation }
    })
    $adapters = @(Get-VMNetworkAdapter -VM $VM | ForEach-Object {
        $vlan = Get-VMNetworkAdapterVlan -VMNetworkAdapter $_
        $private = ''
        if ([string]$vlan.OperationMode -eq 'Private') {
            $private = '{0} primary {1} secondary {2}' -f [string]$vlan.PrivateVlanMode, $vlan.PrimaryVlanId, [string]::Join(',', @($vlan.SecondaryVlanIdList))
        }
        [pscustomobject]@{
            Name = $_.Name
            SwitchName = $_.SwitchName
            MacAddress = $_.MacAddress
            DynamicMacAddressEnabled = $_.DynamicMacAddressEnabled
            Vlan = [pscustomobject]@{
                OperationMode = [string]$vlan.OperationMode
                AccessVlanId = $vlan.AccessVlanId
                NativeVlanId = $vlan.NativeVlanId
                AllowedVlanIdList = [string]::Join(',', @($vlan.AllowedVlanIdList))
                Private = $private
            }
        }
    })
    $checkpoints = @(Get-VMSnapshot -VM $VM | ForEach-Object {
        [pscustomobject]@{ Name = $_.Name; SnapshotType = [string]$_.SnapshotType; CreationTime = $_.CreationTime }
    })
    $memory = Get-VMMemory -VM $VM
    $secureBoot = ''
    $template = ''
    if ($VM.Generation -eq 2) {
        $firmware = Get-VMFirmware -VM $VM
        $secureBoot = [string]$firmware.SecureBoot
        $template = [string]$firmware.SecureBootTemplate
    }
    $replication = $null
    if ([string]$VM.ReplicationMode -ne 'None') {
        $r = Get-VMReplication -VM $VM
        $replication = [pscustomobject]@{
            Mode = [string]$r.Mode
            State = [string]$r.State
            Health = [string]$r.Health
            PrimaryServer = [string]$r.PrimaryServer
            ReplicaServer = [string]$r.ReplicaServer
        }
    }
    [pscustomobject]@{
        Name = $VM.Name
        Id = $VM.Id.ToString()
        State = $VM.State
        StateName = [string]$VM.State
        Generation = $VM.Generation
        ProcessorCount = $VM.ProcessorCount
        MemoryStartup = $VM.MemoryStartup
        DynamicMemoryEnabled = $VM.DynamicMemoryEnabled
        MemoryMinimum = $memory.Minimum
        MemoryMaximum = $memory.Maximum
        Path = $VM.Path
        CreationTime = $VM.CreationTime
        HardDrives = $drives
        DvdDrives = $dvds
        NetworkAdapters = $adapters
        Checkpoints = $checkpoints
        SecureBoot = $secureBoot
        SecureBootTemplate = $template
        Replication = $replication
        IsClustered = [bool]$VM.IsClustered
        ComputerName = [string]$VM.ComputerName
    }
}

# Add-FailbackScsiControllers adds SCSI controllers up to number $Number:
# generation 1 VMs start with none, generation 2 with one.
function Add-FailbackScsiControllers($VM, [int]$Number) {
    while (@(Get-VMScsiController -VM $VM).Count -le $Number) {
        Add-VMScsiController -VM $VM
    }
}

try {
    Assert-HyperV
    # Every check comes before the first change.
    if (@(Get-VM | Where-Object { $_.Name -eq $Name }).Count -gt 0) {
        Stop-Failback 'VMExists' ("A virtual machine named '{0}' already exists on {1}." -f $Name, $env:COMPUTERNAME) 'ResourceExists'
    }
    $owner = Get-FailbackClusterOwner $Name
    if ($owner) {
        Stop-Failback 'VMExists' ("A virtual machine named '{0}' already exists on node {1} of cluster {2}." -f $Name, $owner.Node, $owner.Cluster) 'ResourceExists'
    }
    if ($HighlyAvailable -and -not (Get-FailbackCluster)) {
        Stop-Failback 'BadState' ("{0} is not a running node of a failover cluster: the VM cannot be made highly available." -f $env:COMPUTERNAME) 'InvalidOperation'
    }
    foreach ($a in $Adapters) {
        if ($a.SwitchName -and @(Get-VMSwitch | Where-Object { $_.Name -eq $a.SwitchName }).Count -eq 0) {
            Stop-Failback 'SwitchNotFound' ("There is no virtual switch named '{0}' on {1}." -f $a.SwitchName, $env:COMPUTERNAME) 'ObjectNotFound' $a.SwitchName
        }
    }
    foreach ($d in $Disks) {
        $exists = Test-Path -LiteralPath $d.Path
        if ($d.Existing -and -not $exists) {
            Stop-Failback 'DiskNotFound' ("The disk '{0}' does not exist on {1}." -f $d.Path, $env:COMPUTERNAME) 'ObjectNotFound'
        }
        if (-not $d.Existing -and $exists) {
            Stop-Failback 'DiskExists' ("The disk '{0}' already exists on {1}; failback does not overwrite it." -f $d.Path, $env:COMPUTERNAME) 'ResourceExists'
        }
    }
    $created = New-Object System.Collections.Generic.List[string]
    $vm = $null
    try {
        foreach ($d in $Disks) {
            if ($d.Existing) { continue }
            [void][IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($d.Path))
            if ($d.Fixed) { [void](New-VHD -Path $d.Path -SizeBytes $d.SizeBytes -Fixed) }
            else { [void](New-VHD -Path $d.Path -SizeBytes $d.SizeBytes -Dynamic) }
            $created.Add($d.Path)
        }
        $new = @{ Name = $Name; Generation = $Generation; MemoryStartupBytes = $MemoryStartupBytes; NoVHD = $true }
        if ($Folder) { $new.Path = $Folder }
        $vm = New-VM @new
        Set-VMProcessor -VM $vm -Count $ProcessorCount
        $memory = @{ VM = $vm; DynamicMemoryEnabled = $DynamicMemory }
        if ($DynamicMemory -and $MemoryMinimumBytes -gt 0) { $memory.MinimumBytes = $MemoryMinimumBytes }
        if ($DynamicMemory -and $MemoryMaximumBytes -gt 0) { $memory.MaximumBytes = $MemoryMaximumBytes }
        Set-VMMemory @memory
        # New-VM made one adapter; the original's adapters replace it, in order.
        Get-VMNetworkAdapter -VM $vm | Remove-VMNetworkAdapter
        foreach ($a in $Adapters) {
            $add = @{ VM = $vm; Name = $a.Name; Passthru = $true }
            if ($a.SwitchName) { $add.SwitchName = $a.SwitchName }
            if ($a.StaticMac) { $add.StaticMacAddress = $a.StaticMac }
            $nic = Add-VMNetworkAdapter @add
            if ($a.VlanMode -eq 'Access') { Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Access -VlanId $a.AccessVlanId }
            if ($a.VlanMode -eq 'Trunk') { Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Trunk -NativeVlanId $a.NativeVlanId -AllowedVlanIdList $a.AllowedVlanIdList }
        }
        # New-VM gives a generation 1 VM a DVD drive at IDE 1:0: keep exactly
        # the original's drives, before any disk takes a slot.
        foreach ($dvd in @(Get-VMDvdDrive -VM $vm)) {
            $keep = @($DvdDrives | Where-Object { $_.ControllerNumber -eq $dvd.ControllerNumber -and $_.ControllerLocation -eq $dvd.ControllerLocation }).Count -gt 0
            if (-not $keep) { Remove-VMDvdDrive -VMDvdDrive $dvd }
        }
        foreach ($d in $DvdDrives) {
            $have = @(Get-VMDvdDrive -VM $vm | Where-Object { $_.ControllerNumber -eq $d.ControllerNumber -and $_.ControllerLocation -eq $d.ControllerLocation }).Count -gt 0
            if ($have) { continue }
            if ($d.ControllerType -eq 'SCSI') { Add-FailbackScsiControllers $vm $d.ControllerNumber }
            Add-VMDvdDrive -VM $vm -ControllerNumber $d.ControllerNumber -ControllerLocation $d.ControllerLocation
        }
        foreach ($d in $Disks) {
            if ($d.ControllerType -eq 'SCSI') { Add-FailbackScsiControllers $vm $d.ControllerNumber }
            Add-VMHardDiskDrive -VM $vm -ControllerType $d.ControllerType -ControllerNumber $d.ControllerNumber -ControllerLocation $d.ControllerLocation -Path $d.Path
        }
        if ($Generation -eq 2) {
            $firmware = @{ VM = $vm }
            if ($BootDisk) {
                $firmware.FirstBootDevice = Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path -eq $BootDisk } | Select-Object -First 1
            }
            if ($SecureBoot) { $firmware.EnableSecureBoot = $SecureBoot }
            if ($SecureBootTemplate) { $firmware.SecureBootTemplate = $SecureBootTemplate }
            if ($firmware.Count -gt 1) { Set-VMFirmware @firmware }
        }
        # Last, so that a failure before it leaves no cluster role behind.
        if ($HighlyAvailable) { [void](Add-ClusterVirtualMachineRole -VMId $vm.Id) }
    } catch {
        $failure = $_
        if ($vm) { Remove-VM -VM $vm -Force -ErrorAction SilentlyContinue }
        foreach ($p in $created) { Remove-Item -LiteralPath $p -Force -ErrorAction SilentlyContinue }
        Write-FailbackError $failure
    }
    Write-FailbackResult (ConvertTo-FailbackVM (Get-VM -Id $vm.Id))
} catch {
    Write-FailbackError $_
}

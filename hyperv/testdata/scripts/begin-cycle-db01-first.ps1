# failback begin-cycle: generated; every argument is a single-quoted literal or a number.
$Name = 'db01'
$Tag = 'failback 250512-0900-01'
$CrashConsistent = $false
$Since = @()

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

# Reverse replication cycles use what Hyper-V offers backup software
# (root\virtualization\v2): a recovery checkpoint (CreateSnapshot with
# SnapshotType 32768), turned into a reference point afterwards
# (ConvertToReferencePoint), whose Resilient Change Tracking ids
# GetVirtualDiskChanges takes as the baseline of the next cycle.
$FailbackNs = 'root\virtualization\v2'

# ConvertTo-FailbackEmbedded renders a client-only CIM instance as the
# embedded-instance text Hyper-V's methods take.
function ConvertTo-FailbackEmbedded($Instance) {
    $serializer = [Microsoft.Management.Infrastructure.Serialization.CimSerializer]::Create()
    $bytes = $serializer.Serialize($Instance, [Microsoft.Management.Infrastructure.Serialization.InstanceSerializationOptions]::None)
    [System.Text.Encoding]::Unicode.GetString($bytes)
}

# Wait-FailbackCimJob waits for a method's job (return value 4096) and
# returns it, or $null when the method completed at once; a failure is
# thrown with Hyper-V's own description (a caller may try another way).
function Wait-FailbackCimJob($Result, [string]$What) {
    if ($Result.ReturnValue -eq 4096) {
        $job = Get-CimInstance -InputObject $Result.Job
        while ($job.JobState -eq 3 -or $job.JobState -eq 4) {
            Start-Sleep -Milliseconds 500
            $job = Get-CimInstance -InputObject $job
        }
        if ($job.JobState -ne 7) {
            throw ("{0} failed on {1}: {2} (error {3})." -f $What, $env:COMPUTERNAME, $job.ErrorDescription, $job.ErrorCode)
        }
        return $job
    }
    if ($Result.ReturnValue -ne 0) {
        throw ("{0} failed on {1} (return value {2})." -f $What, $env:COMPUTERNAME, $Result.ReturnValue)
    }
    $null
}

# ConvertTo-FailbackWql quotes a value for a WQL string literal.
function ConvertTo-FailbackWql([string]$Value) { $Value.Replace('\', '\\').Replace("'", "\'") }

# Get-FailbackRootPath follows a disk's parents to the file at the root
# of its chain: the disk failback wrote, unless checkpoints were taken.
function Get-FailbackRootPath([string]$Path) {
    $p = $Path
    for ($i = 0; $i -lt 64; $i++) {
        $parent = [string](Get-VHD -Path $p).ParentPath
        if (-not $parent) { return $p }
        $p = $parent
    }
    $p
}

# Get-FailbackChanges asks change tracking for the ranges of a frozen
# disk written since one of the RCT ids. It answers the ranges, or why
# they are not known.
function Get-FailbackChanges([string]$Path, [string[]]$Since) {
    if ($Since.Count -eq 0) {
        return [pscustomobject]@{ Known = $false; Changed = @(); Why = 'no reference point recorded yet' }
    }
    $service = Get-CimInstance -Namespace $FailbackNs -ClassName 'Msvm_ImageManagementService'
    $size = [uint64](Get-VHD -Path $Path).Size
    $why = ''
    foreach ($id in $Since) {
        $changed = New-Object System.Collections.Generic.List[object]
        $offset = [uint64]0
        $failed = ''
        while ($offset -lt $size) {
            $r = Invoke-CimMethod -InputObject $service -MethodName 'GetVirtualDiskChanges' -Arguments @{
                Path = $Path; LimitId = $id; TargetSnapshotId = ''; ByteOffset = $offset; ByteLength = [uint64]($size - $offset)
            }
            if ($r.ReturnValue -ne 0 -or [uint64]$r.ProcessedByteLength -eq 0) {
                $failed = 'GetVirtualDiskChanges answered {0}' -f $r.ReturnValue
                break
            }
            $offsets = @($r.ChangedByteOffsets)
            $lengths = @($r.ChangedByteLengths)
            for ($i = 0; $i -lt $offsets.Count; $i++) {
                $changed.Add([pscustomobject]@{ off = [uint64]$offsets[$i]; len = [uint64]$lengths[$i] })
            }
            $offset += [uint64]$r.ProcessedByteLength
        }
        if (-not $failed) {
            return [pscustomobject]@{ Known = $true; Changed = $changed.ToArray(); Why = '' }
        }
        $why = $failed
    }
    [pscustomobject]@{ Known = $false; Changed = @(); Why = ('change tracking does not know this disk since the last cycle ({0}): it was written outside Hyper-V, moved, or the reference point is gone' -f $why) }
}

try {
    Assert-HyperV
    $vm = Find-FailbackVM $Name
    $removed = @()
    # A checkpoint an interrupted cycle left: removing it merges what the
    # guest wrote since into the disks.
    foreach ($old in @(Get-VMSnapshot -VM $vm -SnapshotType 'Recovery' | Where-Object { $_.Name -eq $Tag })) {
        Remove-VMSnapshot -VMSnapshot $old -Confirm:$false
        $removed += [string]$old.Id
    }
    $state = [string]$vm.State
    $levels = @(2)
    $consistency = 'vm-off'
    $consistencyWanted = 'the VM is off'
    if ($state -eq 'Running') {
        $levels = @(1)
        $consistencyWanted = 'application-consistent'
        if ($CrashConsistent) { $levels += 2; $consistencyWanted = 'application- or crash-consistent' }
    } elseif ($state -ne 'Off') {
        Stop-Failback 'BadState' ("The virtual machine '{0}' on {1} is {2}: a cycle reads a VM that is running or off." -f $Name, $env:COMPUTERNAME, $state) 'InvalidOperation'
    }
    $system = Get-CimInstance -Namespace $FailbackNs -ClassName 'Msvm_ComputerSystem' -Filter ("Name='{0}'" -f $vm.Id)
    $service = Get-CimInstance -Namespace $FailbackNs -ClassName 'Msvm_VirtualSystemSnapshotService'
    $class = Get-CimClass -Namespace $FailbackNs -ClassName 'Msvm_VirtualSystemSnapshotSettingData'
    $before = @(Get-VMSnapshot -VM $vm -SnapshotType 'Recovery' | ForEach-Object { [string]$_.Id })
    $made = $null
    $why = ''
    foreach ($level in $levels) {
        $settings = New-CimInstance -CimClass $class -ClientOnly -Property @{ ConsistencyLevel = [byte]$level; IgnoreNonSnapshottableDisks = $true }
        try {
            $r = Invoke-CimMethod -InputObject $service -MethodName 'CreateSnapshot' -Arguments @{
                AffectedSystem = $system; SnapshotSettings = (ConvertTo-FailbackEmbedded $settings); SnapshotType = [uint16]32768
            }
            $null = Wait-FailbackCimJob $r 'The recovery checkpoint'
        } catch {
            $why = $_.Exception.Message
            continue
        }
        $made = @(Get-VMSnapshot -VM $vm -SnapshotType 'Recovery' | Where-Object { $before -notcontains [string]$_.Id })
        if ($level -eq 1) { $consistency = 'application-consistent' } elseif ($state -eq 'Running') { $consistency = 'crash-consistent' }
        break
    }
    if (-not $made) {
        Stop-Failback 'BadState' ("No recovery checkpoint of '{0}' could be taken on {1} ({2}): {3}" -f $Name, $env:COMPUTERNAME, $consistencyWanted, $why) 'InvalidOperation'
    }
    $snapshot = $made[0]
    Rename-VMSnapshot -VMSnapshot $snapshot -NewName $Tag
    $disks = @(Get-VMHardDiskDrive -VMSnapshot $snapshot | Where-Object { $_.Path } | ForEach-Object {
        $read = [string]$_.Path
        $changes = Get-FailbackChanges $read $Since
        [pscustomobject]@{
            path = Get-FailbackRootPath $read
            read_path = $read
            changes_known = $changes.Known
            changed = @($changes.Changed)
            why = $changes.Why
        }
    })
    Write-FailbackResult ([ordered]@{ checkpoint = [string]$snapshot.Id; consistency = $consistency; disks = $disks; removed = $removed })
} catch {
    Write-FailbackError $_
}

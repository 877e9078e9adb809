# failback stop-vm: generated; every argument is a single-quoted literal or a number.
$Name = 'web01'
$TimeoutSeconds = 90

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

# Stop-Failback reports an error this script classified itself.
function Stop-Failback([string]$Type, [string]$Message, [string]$Category) {
    Write-FailbackJson ([ordered]@{ error = [ordered]@{ type = $Type; message = $Message; category = $Category; id = ''; target = '' } })
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
# [ ] * ? as wildcards.
function Find-FailbackVM([string]$VMName) {
    $found = @(Get-VM | Where-Object { $_.Name -eq $VMName })
    if ($found.Count -eq 0) {
        Stop-Failback 'VMNotFound' ("There is no virtual machine named '{0}' on {1}." -f $VMName, $env:COMPUTERNAME) 'ObjectNotFound'
    }
    if ($found.Count -gt 1) {
        Stop-Failback 'Ambiguous' ("{0} virtual machines are named '{1}' on {2}; rename all but one." -f $found.Count, $VMName, $env:COMPUTERNAME) 'InvalidResult'
    }
    $found[0]
}

function ConvertTo-FailbackVM($VM) {
    $drives = @(Get-VMHardDiskDrive -VM $VM | ForEach-Object {
        $drive = $_
        $vhd = $null
        $problem = ''
        if ($drive.Path) {
            try { $vhd = Get-VHD -Path $drive.Path | Select-Object VhdFormat, VhdType, Size, FileSize }
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
    $adapters = @(Get-VMNetworkAdapter -VM $VM | Select-Object Name, SwitchName, MacAddress)
    [pscustomobject]@{
        Name = $VM.Name
        Id = $VM.Id.ToString()
        State = $VM.State
        StateName = [string]$VM.State
        Generation = $VM.Generation
        ProcessorCount = $VM.ProcessorCount
        MemoryStartup = $VM.MemoryStartup
        DynamicMemoryEnabled = $VM.DynamicMemoryEnabled
        Path = $VM.Path
        CreationTime = $VM.CreationTime
        HardDrives = $drives
        NetworkAdapters = $adapters
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
    $vm = Find-FailbackVM $Name
    $forced = $false
    if ([string]$vm.State -ne 'Off') {
        # Stop-VM -Force asks the guest to shut down (through the shutdown
        # integration service) without prompting; the job bounds the wait.
        $job = Stop-VM -VM $vm -Force -AsJob
        $graceful = $false
        if (Wait-Job -Job $job -Timeout $TimeoutSeconds) {
            try { Receive-Job -Job $job -ErrorAction Stop | Out-Null; $graceful = $true } catch { $graceful = $false }
        } else {
            Stop-Job -Job $job
        }
        Remove-Job -Job $job -Force
        $vm = Get-VM -Id $vm.Id
        # A Saved or Paused VM has no guest to shut down: turning it off
        # discards its saved state, as a failback must (it boots from the
        # synchronised disks, never from memory older than them).
        if (-not $graceful -or [string]$vm.State -ne 'Off') {
            Stop-VM -VM $vm -TurnOff -Force
            $forced = $true
        }
    }
    Write-FailbackResult ([ordered]@{ Forced = $forced; State = [string](Get-VM -Id $vm.Id).State })
} catch {
    Write-FailbackError $_
}

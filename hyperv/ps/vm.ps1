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

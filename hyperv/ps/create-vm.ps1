Assert-HyperV
# Every check comes before the first change.
if (@(Get-VM | Where-Object { $_.Name -eq $Name }).Count -gt 0) {
    Stop-Failback 'VMExists' ("A virtual machine named '{0}' already exists on {1}." -f $Name, $env:COMPUTERNAME) 'ResourceExists'
}
if (@(Get-VMSwitch | Where-Object { $_.Name -eq $SwitchName }).Count -eq 0) {
    Stop-Failback 'SwitchNotFound' ("There is no virtual switch named '{0}' on {1}." -f $SwitchName, $env:COMPUTERNAME) 'ObjectNotFound'
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
    $new = @{ Name = $Name; Generation = $Generation; MemoryStartupBytes = $MemoryStartupBytes; SwitchName = $SwitchName; NoVHD = $true }
    if ($Folder) { $new.Path = $Folder }
    $vm = New-VM @new
    Set-VMProcessor -VM $vm -Count $ProcessorCount
    Set-VMMemory -VM $vm -DynamicMemoryEnabled $DynamicMemory
    foreach ($d in $Disks) {
        if ($d.ControllerType -eq 'SCSI') { Add-FailbackScsiControllers $vm $d.ControllerNumber }
        Add-VMHardDiskDrive -VM $vm -ControllerType $d.ControllerType -ControllerNumber $d.ControllerNumber -ControllerLocation $d.ControllerLocation -Path $d.Path
    }
    if ($Generation -eq 2 -and $BootDisk) {
        $boot = Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path -eq $BootDisk } | Select-Object -First 1
        Set-VMFirmware -VM $vm -FirstBootDevice $boot
    }
} catch {
    $failure = $_
    if ($vm) { Remove-VM -VM $vm -Force -ErrorAction SilentlyContinue }
    foreach ($p in $created) { Remove-Item -LiteralPath $p -Force -ErrorAction SilentlyContinue }
    Write-FailbackError $failure
}
Write-FailbackResult (ConvertTo-FailbackVM (Get-VM -Id $vm.Id))

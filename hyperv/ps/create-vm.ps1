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

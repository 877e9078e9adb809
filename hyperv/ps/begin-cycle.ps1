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

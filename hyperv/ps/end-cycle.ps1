Assert-HyperV
$vm = Find-FailbackVM $Name
$snapshot = @(Get-VMSnapshot -VM $vm -SnapshotType 'Recovery' | Where-Object { [string]$_.Id -eq $Checkpoint })
if ($snapshot.Count -eq 0) {
    Stop-Failback 'BadState' ("The recovery checkpoint {0} of '{1}' is gone from {2} (another cycle removed it)." -f $Checkpoint, $Name, $env:COMPUTERNAME) 'ObjectNotFound'
}
$point = [ordered]@{ id = ''; rct = @() }
if (-not $Keep) {
    Remove-VMSnapshot -VMSnapshot $snapshot[0] -Confirm:$false
    Write-FailbackResult $point
}
$service = Get-CimInstance -Namespace $FailbackNs -ClassName 'Msvm_VirtualSystemSnapshotService'
$settings = Get-CimInstance -Namespace $FailbackNs -ClassName 'Msvm_VirtualSystemSettingData' -Filter ("InstanceID='Microsoft:{0}'" -f (ConvertTo-FailbackWql $Checkpoint))
$r = Invoke-CimMethod -InputObject $service -MethodName 'ConvertToReferencePoint' -Arguments @{ AffectedSnapshot = $settings; ReferencePointSettings = '' }
$job = Wait-FailbackCimJob $r 'Turning the recovery checkpoint into a reference point'
if ($job) {
    $reference = Get-CimAssociatedInstance -InputObject $job -ResultClassName 'Msvm_VirtualSystemReferencePoint'
} else {
    $reference = Get-CimInstance -InputObject $r.ResultingReferencePoint
}
$point.id = [string]$reference.InstanceID
$point.rct = @($reference.ResilientChangeTrackingIdentifiers | ForEach-Object { [string]$_ })
# The reference points of failback's earlier cycles, named by the caller;
# others (backup software's) are never touched.
if ($Drop.Count -gt 0) {
    $refService = Get-CimInstance -Namespace $FailbackNs -ClassName 'Msvm_VirtualSystemReferencePointService'
    foreach ($id in $Drop) {
        $old = Get-CimInstance -Namespace $FailbackNs -ClassName 'Msvm_VirtualSystemReferencePoint' -Filter ("InstanceID='{0}'" -f (ConvertTo-FailbackWql $id))
        if ($old) {
            $d = Invoke-CimMethod -InputObject $refService -MethodName 'DestroyReferencePoint' -Arguments @{ AffectedReferencePoint = $old }
            $null = Wait-FailbackCimJob $d 'Removing the previous reference point'
        }
    }
}
Write-FailbackResult $point

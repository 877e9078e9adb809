Assert-HyperV
$vm = Find-FailbackVM $Name
if ([string]$vm.State -ne 'Off') {
    Stop-Failback 'BadState' ("'{0}' is {1} on {2}: it must be off to be removed." -f $Name, $vm.State, $env:COMPUTERNAME) 'InvalidOperation'
}
$disks = @(Get-VMHardDiskDrive -VM $vm | ForEach-Object { $_.Path } | Where-Object { $_ })
Remove-VM -VM $vm -Force
$removed = @()
if ($DeleteDisks) {
    foreach ($p in $disks) {
        if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Force; $removed += $p }
    }
}
Write-FailbackResult ([ordered]@{ Name = $Name; Disks = $removed })

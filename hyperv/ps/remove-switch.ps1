Assert-HyperV
$found = @(Get-VMSwitch | Where-Object { $_.Name -eq $Name })
if ($found.Count -eq 0) {
    Write-FailbackResult ([ordered]@{ Removed = $false })
}
# Only VMs count: an Internal switch's own adapter in the management OS goes
# with the switch.
$users = @(Get-VM | ForEach-Object {
    $owner = $_
    if (@(Get-VMNetworkAdapter -VM $owner | Where-Object { $_.SwitchName -eq $Name }).Count -gt 0) { $owner.Name }
})
if ($users.Count -gt 0) {
    Stop-Failback 'BadState' ("The virtual switch '{0}' on {1} still connects {2}." -f $Name, $env:COMPUTERNAME, ($users -join ', ')) 'ResourceBusy'
}
Remove-VMSwitch -VMSwitch $found[0] -Force
Write-FailbackResult ([ordered]@{ Removed = $true })

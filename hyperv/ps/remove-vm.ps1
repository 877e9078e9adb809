Assert-HyperV
$found = @(Get-VM | Where-Object { $_.Name -eq $Name })
if ($found.Count -eq 0) {
    Write-FailbackResult ([ordered]@{ Removed = $false })
}
if ($found.Count -gt 1) {
    Stop-Failback 'Ambiguous' ("{0} virtual machines are named '{1}' on {2}; rename all but one." -f $found.Count, $Name, $env:COMPUTERNAME) 'InvalidResult'
}
$vm = $found[0]
if ([string]$vm.State -ne 'Off') {
    Stop-VM -VM $vm -TurnOff -Force
}
# Remove-VM deletes the VM's configuration; its virtual hard disk files stay.
Remove-VM -VM $vm -Force
Write-FailbackResult ([ordered]@{ Removed = $true })

Assert-HyperV
$vm = Find-FailbackVM $Name
if ([string]$vm.State -ne 'Running') {
    foreach ($d in @(Get-VMHardDiskDrive -VM $vm)) {
        if ($d.Path -and -not (Test-Path -LiteralPath $d.Path)) {
            Stop-Failback 'DiskNotFound' ("The disk '{0}' of '{1}' does not exist on {2}." -f $d.Path, $Name, $env:COMPUTERNAME) 'ObjectNotFound'
        }
    }
    Start-VM -VM $vm
}
Write-FailbackResult ([string](Get-VM -Id $vm.Id).State)

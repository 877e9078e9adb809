Assert-HyperV
# A test switch isolates the test VMs: Private (no host, no network) or
# Internal (the host only). Never External: that is the production network.
if ($SwitchType -ne 'Private' -and $SwitchType -ne 'Internal') {
    Stop-Failback 'BadState' ("A test switch is Private or Internal, not '{0}'." -f $SwitchType) 'InvalidArgument'
}
# Get-VMSwitch -Name would treat [ ] * ? as wildcards.
$found = @(Get-VMSwitch | Where-Object { $_.Name -eq $Name })
$created = $false
if ($found.Count -eq 0) {
    New-VMSwitch -Name $Name -SwitchType $SwitchType | Out-Null
    $found = @(Get-VMSwitch | Where-Object { $_.Name -eq $Name })
    $created = $true
}
$sw = $found[0]
Write-FailbackResult ([ordered]@{
    Created = $created
    Name = $sw.Name
    SwitchType = [string]$sw.SwitchType
    NetAdapterInterfaceDescription = $sw.NetAdapterInterfaceDescription
})

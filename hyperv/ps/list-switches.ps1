Assert-HyperV
$switches = @(Get-VMSwitch | ForEach-Object {
    [pscustomobject]@{
        Name = $_.Name
        Id = $_.Id.ToString()
        SwitchType = $_.SwitchType
        NetAdapterInterfaceDescription = $_.NetAdapterInterfaceDescription
    }
})
Write-FailbackResult $switches

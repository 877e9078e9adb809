Assert-HyperV
$vm = Find-FailbackVM $Name
$adapters = @(Get-VMNetworkAdapter -VM $vm)
$addresses = @($adapters | ForEach-Object { $_.IPAddresses } | Where-Object { $_ -and $_ -notlike 'fe80:*' })
$switches = @($adapters | Where-Object { $_.SwitchName } | ForEach-Object {
    $switchName = $_.SwitchName
    $sw = @(Get-VMSwitch | Where-Object { $_.Name -eq $switchName })
    $type = ''
    if ($sw.Count -gt 0) { $type = [string]$sw[0].SwitchType }
    [pscustomobject]@{ Name = $switchName; SwitchType = $type }
})
$portList = @($PortList -split ',' | Where-Object { $_ } | ForEach-Object { [int]$_ })
$results = @(foreach ($port in $portList) {
    $open = $false
    $detail = 'the VM reports no IP address'
    $at = ''
    foreach ($address in $addresses) {
        $at = $address
        $client = New-Object System.Net.Sockets.TcpClient
        try {
            $task = $client.ConnectAsync($address, $port)
            if ($task.Wait($TimeoutMilliseconds) -and $client.Connected) {
                $open = $true
                $detail = ''
            } else {
                $detail = 'no answer within {0} ms' -f $TimeoutMilliseconds
            }
        } catch {
            $e = $_.Exception
            while ($e.InnerException) { $e = $e.InnerException }
            $detail = $e.Message
        } finally {
            $client.Dispose()
        }
        if ($open) { break }
    }
    [pscustomobject]@{ Port = $port; Address = $at; Open = $open; Detail = $detail }
})
Write-FailbackResult ([ordered]@{
    State = [string]$vm.State
    Addresses = $addresses
    Switches = $switches
    Ports = $results
})

Assert-HyperV
$vm = Find-FailbackVM $Name
# The Heartbeat integration service by its id (its name is localised).
$hb = @(Get-VMIntegrationService -VM $vm | Where-Object { [string]$_.Id -like '*84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47' }) | Select-Object -First 1
if (-not $hb) {
    Write-FailbackResult ([ordered]@{ State = [string]$vm.State; Enabled = $false; Status = 'no heartbeat service' })
}
Write-FailbackResult ([ordered]@{ State = [string]$vm.State; Enabled = [bool]$hb.Enabled; Status = [string]$hb.PrimaryStatusDescription })

Assert-HyperV
$info = [ordered]@{ Computer = $env:COMPUTERNAME; Cluster = ''; Nodes = @(); CSVs = @(); SiteRecovery = '' }
$cluster = Get-FailbackCluster
if ($cluster) {
    $info.Cluster = [string]$cluster.Name
    $info.Nodes = @(Get-ClusterNode | ForEach-Object { [string]$_.Name })
    $info.CSVs = @(Get-ClusterSharedVolume | ForEach-Object { @($_.SharedVolumeInfo) | ForEach-Object { [string]$_.FriendlyVolumeName } })
}
# The Azure Site Recovery Provider registers the host with a Recovery
# Services vault; its installer names it in the uninstall list.
$uninstall = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*'
$provider = @(Get-ItemProperty -Path $uninstall -ErrorAction SilentlyContinue | Where-Object { $_.DisplayName -like '*Azure Site Recovery*' })
if ($provider.Count -gt 0) { $info.SiteRecovery = ('{0} {1}' -f $provider[0].DisplayName, $provider[0].DisplayVersion).Trim() }
Write-FailbackResult $info

# The folder may not exist yet: measure its nearest existing parent.
$probe = $Path
while ($probe -and -not (Test-Path -LiteralPath $probe)) { $probe = [IO.Path]::GetDirectoryName($probe) }
if (-not $probe) {
    Stop-Failback 'DiskNotFound' ("No part of '{0}' exists on {1}." -f $Path, $env:COMPUTERNAME) 'ObjectNotFound'
}
$full = (Get-Item -LiteralPath $probe -Force).FullName
if (-not $full.EndsWith('\')) { $full += '\' }
# Win32_Volume also lists mount points and cluster shared volumes, which
# a drive letter alone would miss; the longest matching mount path wins.
$best = $null
foreach ($v in @(Get-CimInstance -ClassName Win32_Volume)) {
    if ($v.Name -and $full.StartsWith($v.Name, [StringComparison]::OrdinalIgnoreCase)) {
        if (-not $best -or $v.Name.Length -gt $best.Name.Length) { $best = $v }
    }
}
# A cluster shared volume is measured by the cluster, which knows it on
# every node.
$cluster = Get-FailbackCluster
if ($cluster) {
    foreach ($csv in @(Get-ClusterSharedVolume)) {
        foreach ($info in @($csv.SharedVolumeInfo)) {
            $root = ([string]$info.FriendlyVolumeName).TrimEnd('\') + '\'
            if ($full.StartsWith($root, [StringComparison]::OrdinalIgnoreCase)) {
                Write-FailbackResult ([ordered]@{ Path = $Path; Volume = $root; DeviceID = $root; FreeSpace = $info.Partition.FreeSpace; Capacity = $info.Partition.Size })
            }
        }
    }
}
if (-not $best) {
    Stop-Failback 'DiskNotFound' ("'{0}' is not on a local volume of {1}; free space on SMB shares is not measured." -f $Path, $env:COMPUTERNAME) 'ObjectNotFound'
}
Write-FailbackResult ([ordered]@{ Path = $Path; Volume = $best.Name; DeviceID = $best.DeviceID; FreeSpace = $best.FreeSpace; Capacity = $best.Capacity })

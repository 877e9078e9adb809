Assert-HyperV
$exists = Test-Path -LiteralPath $Path
# A VM that is saved or paused still owns its disks: only Off frees them.
$users = @(Get-VM | Where-Object { [string]$_.State -ne 'Off' } | ForEach-Object {
    $owner = $_
    if (@(Get-VMHardDiskDrive -VM $owner | Where-Object { $_.Path -eq $Path }).Count -gt 0) { $owner.Name }
})
$locked = $false
$reason = ''
if ($exists) {
    try {
        $fs = [IO.File]::Open($Path, [IO.FileMode]::Open, [IO.FileAccess]::ReadWrite, [IO.FileShare]::None)
        $fs.Dispose()
    } catch {
        $e = $_.Exception
        if ($e.InnerException) { $e = $e.InnerException }
        $locked = $true
        $reason = $e.Message
    }
}
Write-FailbackResult ([ordered]@{ Path = $Path; Exists = $exists; VMs = $users; Locked = $locked; Reason = $reason })

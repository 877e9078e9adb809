Assert-HyperV
$vm = Find-FailbackVM $Name
$forced = $false
# A Saved VM has no guest to ask: its saved state is deleted (it must boot
# from the synchronised disks, never resume memory older than them).
if ([string]$vm.State -eq 'Saved') {
    Remove-VMSavedState -VM $vm
    $vm = Get-VM -Id $vm.Id
    $forced = $true
}
if ([string]$vm.State -ne 'Off') {
    # Stop-VM -Force asks the guest to shut down (through the shutdown
    # integration service) without prompting; the job bounds the wait.
    $job = Stop-VM -VM $vm -Force -AsJob
    $graceful = $false
    if (Wait-Job -Job $job -Timeout $TimeoutSeconds) {
        try { Receive-Job -Job $job -ErrorAction Stop | Out-Null; $graceful = $true } catch { $graceful = $false }
    } else {
        Stop-Job -Job $job
    }
    Remove-Job -Job $job -Force
    $vm = Get-VM -Id $vm.Id
    # A Paused VM has no running guest to shut down: turning it off
    # discards its memory, as a failback must.
    if (-not $graceful -or [string]$vm.State -ne 'Off') {
        Stop-VM -VM $vm -TurnOff -Force
        $forced = $true
    }
}
Write-FailbackResult ([ordered]@{ Forced = $forced; State = [string](Get-VM -Id $vm.Id).State })

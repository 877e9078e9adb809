Assert-HyperV
$vm = Find-FailbackVM $Name
$state = [string]$vm.State
# A Saved VM would resume memory older than the disks a failback writes:
# its saved state is deleted. A Paused VM holds that memory still; turning
# it off discards it.
if ($state -eq 'Saved') { Remove-VMSavedState -VM $vm }
elseif ($state -eq 'Paused') { Stop-VM -VM $vm -TurnOff -Force }
elseif ($state -ne 'Off') {
    Stop-Failback 'BadState' ("The virtual machine '{0}' on {1} is {2}: only a Saved or Paused VM has a state to discard." -f $Name, $env:COMPUTERNAME, $state) 'InvalidOperation'
}
Write-FailbackResult ([string](Get-VM -Id $vm.Id).State)

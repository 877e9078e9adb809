Assert-HyperV
$vm = Find-FailbackVM $Name
if (-not (Test-Path -LiteralPath $Path)) {
    Stop-Failback 'DiskNotFound' ("The disk '{0}' does not exist on {1}." -f $Path, $env:COMPUTERNAME) 'ObjectNotFound'
}
if ($ControllerType -eq 'SCSI') { Add-FailbackScsiControllers $vm $ControllerNumber }
Add-VMHardDiskDrive -VM $vm -ControllerType $ControllerType -ControllerNumber $ControllerNumber -ControllerLocation $ControllerLocation -Path $Path
Write-FailbackResult $true

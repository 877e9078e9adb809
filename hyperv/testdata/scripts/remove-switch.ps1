# failback remove-switch: generated; every argument is a single-quoted literal or a number.
$Name = 'failback-test'

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
# Windows PowerShell 5.1 serialises some arrays as {"value":[...],"Count":n}
# because of this type data; without it arrays stay arrays. (PowerShell 7
# has none, and the failure to remove it is of no interest.)
try { Remove-TypeData -TypeName System.Array -ErrorAction Stop } catch { }

# One line of ASCII JSON on stdout: non-ASCII characters are escaped so the
# console code page cannot mangle names.
function Write-FailbackJson($Value) {
    $json = ConvertTo-Json -InputObject $Value -Depth 8 -Compress
    $json = [regex]::Replace($json, '[^\u0000-\u007F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
    [Console]::Out.WriteLine($json)
}

function Write-FailbackResult($Value) {
    Write-FailbackJson ([ordered]@{ ok = $Value })
    exit 0
}

# Stop-Failback reports an error this script classified itself; Target
# names what it is about when the message alone would not do (the node
# that owns a clustered VM).
function Stop-Failback([string]$Type, [string]$Message, [string]$Category, [string]$Target = '') {
    Write-FailbackJson ([ordered]@{ error = [ordered]@{ type = $Type; message = $Message; category = $Category; id = ''; target = $Target } })
    exit 1
}

# Write-FailbackError reports any other error with PowerShell's own
# classification, which the console maps without reading the message.
function Write-FailbackError($Record) {
    $target = ''
    if ($null -ne $Record.TargetObject) { $target = [string]$Record.TargetObject }
    Write-FailbackJson ([ordered]@{ error = [ordered]@{
        type = $Record.Exception.GetType().FullName
        message = $Record.Exception.Message
        category = [string]$Record.CategoryInfo.Category
        id = [string]$Record.FullyQualifiedErrorId
        target = $target
    } })
    exit 1
}

function Assert-HyperV {
    if (-not (Get-Module -ListAvailable -Name Hyper-V)) {
        Stop-Failback 'ModuleMissing' ("The Hyper-V PowerShell module is not installed on {0}." -f $env:COMPUTERNAME) 'NotInstalled'
    }
    Import-Module -Name Hyper-V
    $principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
    $admin = $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
    $hvAdmin = $principal.IsInRole([Security.Principal.SecurityIdentifier]'S-1-5-32-578')
    if (-not ($admin -or $hvAdmin)) {
        Stop-Failback 'AccessDenied' ("{0} is neither an elevated Administrator nor a member of Hyper-V Administrators on {1}." -f $principal.Identity.Name, $env:COMPUTERNAME) 'PermissionDenied'
    }
}

try {
    Assert-HyperV
    $found = @(Get-VMSwitch | Where-Object { $_.Name -eq $Name })
    if ($found.Count -eq 0) {
        Write-FailbackResult ([ordered]@{ Removed = $false })
    }
    # Only VMs count: an Internal switch's own adapter in the management OS goes
    # with the switch.
    $users = @(Get-VM | ForEach-Object {
        $owner = $_
        if (@(Get-VMNetworkAdapter -VM $owner | Where-Object { $_.SwitchName -eq $Name }).Count -gt 0) { $owner.Name }
    })
    if ($users.Count -gt 0) {
        Stop-Failback 'BadState' ("The virtual switch '{0}' on {1} still connects {2}." -f $Name, $env:COMPUTERNAME, ($users -join ', ')) 'ResourceBusy'
    }
    Remove-VMSwitch -VMSwitch $found[0] -Force
    Write-FailbackResult ([ordered]@{ Removed = $true })
} catch {
    Write-FailbackError $_
}

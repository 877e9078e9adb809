# failback ensure-switch: generated; every argument is a single-quoted literal or a number.
$Name = 'failback-test'
$SwitchType = 'Private'

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
    # A test switch isolates the test VMs: Private (no host, no network) or
    # Internal (the host only). Never External: that is the production network.
    if ($SwitchType -ne 'Private' -and $SwitchType -ne 'Internal') {
        Stop-Failback 'BadState' ("A test switch is Private or Internal, not '{0}'." -f $SwitchType) 'InvalidArgument'
    }
    # Get-VMSwitch -Name would treat [ ] * ? as wildcards.
    $found = @(Get-VMSwitch | Where-Object { $_.Name -eq $Name })
    $created = $false
    if ($found.Count -eq 0) {
        New-VMSwitch -Name $Name -SwitchType $SwitchType | Out-Null
        $found = @(Get-VMSwitch | Where-Object { $_.Name -eq $Name })
        $created = $true
    }
    $sw = $found[0]
    Write-FailbackResult ([ordered]@{
        Created = $created
        Name = $sw.Name
        SwitchType = [string]$sw.SwitchType
        NetAdapterInterfaceDescription = $sw.NetAdapterInterfaceDescription
    })
} catch {
    Write-FailbackError $_
}

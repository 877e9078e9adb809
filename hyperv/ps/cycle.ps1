# Reverse replication cycles use what Hyper-V offers backup software
# (root\virtualization\v2): a recovery checkpoint (CreateSnapshot with
# SnapshotType 32768), turned into a reference point afterwards
# (ConvertToReferencePoint), whose Resilient Change Tracking ids
# GetVirtualDiskChanges takes as the baseline of the next cycle.
$FailbackNs = 'root\virtualization\v2'

# ConvertTo-FailbackEmbedded renders a client-only CIM instance as the
# embedded-instance text Hyper-V's methods take.
function ConvertTo-FailbackEmbedded($Instance) {
    $serializer = [Microsoft.Management.Infrastructure.Serialization.CimSerializer]::Create()
    $bytes = $serializer.Serialize($Instance, [Microsoft.Management.Infrastructure.Serialization.InstanceSerializationOptions]::None)
    [System.Text.Encoding]::Unicode.GetString($bytes)
}

# Wait-FailbackCimJob waits for a method's job (return value 4096) and
# returns it, or $null when the method completed at once; a failure is
# thrown with Hyper-V's own description (a caller may try another way).
function Wait-FailbackCimJob($Result, [string]$What) {
    if ($Result.ReturnValue -eq 4096) {
        $job = Get-CimInstance -InputObject $Result.Job
        while ($job.JobState -eq 3 -or $job.JobState -eq 4) {
            Start-Sleep -Milliseconds 500
            $job = Get-CimInstance -InputObject $job
        }
        if ($job.JobState -ne 7) {
            throw ("{0} failed on {1}: {2} (error {3})." -f $What, $env:COMPUTERNAME, $job.ErrorDescription, $job.ErrorCode)
        }
        return $job
    }
    if ($Result.ReturnValue -ne 0) {
        throw ("{0} failed on {1} (return value {2})." -f $What, $env:COMPUTERNAME, $Result.ReturnValue)
    }
    $null
}

# ConvertTo-FailbackWql quotes a value for a WQL string literal.
function ConvertTo-FailbackWql([string]$Value) { $Value.Replace('\', '\\').Replace("'", "\'") }

# Get-FailbackRootPath follows a disk's parents to the file at the root
# of its chain: the disk failback wrote, unless checkpoints were taken.
function Get-FailbackRootPath([string]$Path) {
    $p = $Path
    for ($i = 0; $i -lt 64; $i++) {
        $parent = [string](Get-VHD -Path $p).ParentPath
        if (-not $parent) { return $p }
        $p = $parent
    }
    $p
}

# Get-FailbackChanges asks change tracking for the ranges of a frozen
# disk written since one of the RCT ids. It answers the ranges, or why
# they are not known.
function Get-FailbackChanges([string]$Path, [string[]]$Since) {
    if ($Since.Count -eq 0) {
        return [pscustomobject]@{ Known = $false; Changed = @(); Why = 'no reference point recorded yet' }
    }
    $service = Get-CimInstance -Namespace $FailbackNs -ClassName 'Msvm_ImageManagementService'
    $size = [uint64](Get-VHD -Path $Path).Size
    $why = ''
    foreach ($id in $Since) {
        $changed = New-Object System.Collections.Generic.List[object]
        $offset = [uint64]0
        $failed = ''
        while ($offset -lt $size) {
            $r = Invoke-CimMethod -InputObject $service -MethodName 'GetVirtualDiskChanges' -Arguments @{
                Path = $Path; LimitId = $id; TargetSnapshotId = ''; ByteOffset = $offset; ByteLength = [uint64]($size - $offset)
            }
            if ($r.ReturnValue -ne 0 -or [uint64]$r.ProcessedByteLength -eq 0) {
                $failed = 'GetVirtualDiskChanges answered {0}' -f $r.ReturnValue
                break
            }
            $offsets = @($r.ChangedByteOffsets)
            $lengths = @($r.ChangedByteLengths)
            for ($i = 0; $i -lt $offsets.Count; $i++) {
                $changed.Add([pscustomobject]@{ off = [uint64]$offsets[$i]; len = [uint64]$lengths[$i] })
            }
            $offset += [uint64]$r.ProcessedByteLength
        }
        if (-not $failed) {
            return [pscustomobject]@{ Known = $true; Changed = $changed.ToArray(); Why = '' }
        }
        $why = $failed
    }
    [pscustomobject]@{ Known = $false; Changed = @(); Why = ('change tracking does not know this disk since the last cycle ({0}): it was written outside Hyper-V, moved, or the reference point is gone' -f $why) }
}

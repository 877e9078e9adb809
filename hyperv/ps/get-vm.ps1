Assert-HyperV
Write-FailbackResult (ConvertTo-FailbackVM (Find-FailbackVM $Name))

#!/usr/bin/env pwsh
# One build script with targets. On Linux: dotnet tool restore && dotnet pwsh build.ps1 <target>
param(
    [ValidateSet('build', 'test', 'quickstart', 'bench', 'pack', 'clean')]
    [string]$Target = 'build',
    [string]$Configuration = 'Debug'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

switch ($Target) {
    'build' { Invoke-Dotnet build Distributed.sln -c $Configuration }
    'test' {
        # The two tiers, as .ci/run runs them: the fast one without child processes, then the process one.
        Invoke-Dotnet build Distributed.sln -c $Configuration
        $env:DISTRIBUTED_NO_CHILD_PROCESSES = '1'
        try { Invoke-Dotnet test Distributed.sln -c $Configuration --no-build --filter 'Tier!=Process' }
        finally { Remove-Item Env:DISTRIBUTED_NO_CHILD_PROCESSES }
        Invoke-Dotnet test Distributed.sln -c $Configuration --no-build --filter 'Tier=Process' --blame-hang-timeout 15min --blame-hang-dump-type mini
    }
    'quickstart' { Invoke-Dotnet run --project src/Distributed.Quickstart -c $Configuration }
    'bench' { Invoke-Dotnet run --project src/Distributed.Benchmarks -c Release }
    'pack' {
        # dcenter and dworker as .NET tools: dotnet tool install --global --add-source artifacts/tools dcenter
        Invoke-Dotnet pack src/dcenter -c Release -o artifacts/tools
        Invoke-Dotnet pack src/dworker -c Release -o artifacts/tools
        # The client library and the two it depends on, same version (from git tags, MinVer), with symbols:
        # dotnet add package Distributed --source artifacts/packages
        # and Distributed.Terminal (console progress bars), which brings Spectre.Console:
        foreach ($library in 'Distributed.Protocol', 'Distributed.Data', 'Distributed', 'Distributed.Terminal') {
            Invoke-Dotnet pack src/$library -c Release -o artifacts/packages
        }
    }
    'clean' { Invoke-Dotnet clean Distributed.sln -c $Configuration }
}

using System.Diagnostics;
using System.Reflection;

using static Distributed.Tests.Programs.PackingCommands;

namespace Distributed.Tests.Programs;

/// <summary>
/// The packages <c>build.ps1 pack</c> makes (Distributed, Distributed.Protocol, Distributed.Data, and the
/// dcenter and dworker tools), packed once per test run from the build the tests use (no rebuild) into
/// one temporary folder: a local NuGet feed for the packing tests.
/// </summary>
public sealed class PackedFeed : IAsyncLifetime
{
    /// <summary>The projects packed, as build.ps1 pack packs them.</summary>
    public static readonly string[] Projects = ["Distributed.Protocol", "Distributed.Data", "Distributed", "dcenter", "dworker"];

    /// <summary>The feed: the .nupkg and .snupkg files.</summary>
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "distributed-tests", "feed-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>The version git gave this build (MinVer), without its +commit suffix: every package's.</summary>
    public string Version { get; } = typeof(Pool).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    /// <summary>How long packing took, for the tests' output.</summary>
    public TimeSpan PackTime { get; private set; }

    /// <summary>The path of one package in the feed.</summary>
    public string PackageOf(string id) => Path.Combine(Directory, $"{id}.{Version}.nupkg");

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var configuration = typeof(PackedFeed).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var root = RepositoryRoot();
        // One MSBuild run packs all five (what 'dotnet pack --no-build' does for each): 8 s where five
        // 'dotnet pack' runs took 23 s on the 2-core machine.
        var packAll = Path.Combine(Directory, "..", Path.GetFileName(Directory) + ".pack.proj");
        var projects = string.Join(";", Projects.Select(p => Path.Combine(root, "src", p, p + ".csproj")));
        await File.WriteAllTextAsync(packAll, $"""
            <Project>
              <Target Name="PackAll">
                <MSBuild Projects="{projects}" Targets="Pack" BuildInParallel="true"
                         Properties="NoBuild=true;_IsPacking=true;Configuration={configuration};PackageOutputPath={Directory}" />
              </Target>
            </Project>
            """);
        var watch = Stopwatch.StartNew();
        try
        {
            await RunToSuccessAsync(new CommandSettings(), "dotnet", "msbuild", packAll, "-t:PackAll", "-m", "-nologo", "-v:m", "--disable-build-servers");
        }
        finally
        {
            File.Delete(packAll);
        }
        PackTime = watch.Elapsed;
    }

    public Task DisposeAsync()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Task.CompletedTask;
    }
}

/// <summary>The packing tests share one <see cref="PackedFeed"/>: one pack per run.</summary>
[CollectionDefinition(Name)]
public sealed class PackedFeedCollection : ICollectionFixture<PackedFeed>
{
    public const string Name = "packed feed";
}

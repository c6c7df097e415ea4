using System.Diagnostics;
using Xunit.Abstractions;

using static Distributed.Tests.Programs.PackingCommands;

namespace Distributed.Tests.Programs;

/// <summary>
/// What a new user does, from the packages alone: a fresh console project references Distributed from a
/// NuGet feed, installs dcenter and dworker from it as local tools, and runs the quickstart on a
/// LocalCluster, which finds the tools through the project's tool manifest. Nothing of the repository's
/// build is beside the program.
/// </summary>
[Collection(PackedFeedCollection.Name)]
[ProcessTier]
public sealed class NewUserQuickstartTests(PackedFeed feed, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(4);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "distributed-tests", "new-user-" + Guid.NewGuid().ToString("N")[..12]);

    private const string Quickstart = """
        using Distributed;
        using Distributed.Hosting;

        await using var cluster = await LocalCluster.StartAsync(workers: 2);
        await using var pool = await cluster.ConnectAsync();
        var squares = pool.Map(x => x * x, Enumerable.Range(0, 10));
        var negated = pool.Map(x => -x, squares);
        Console.WriteLine(pool.Apply(xs => xs.Sum(), negated).Get());
        Console.WriteLine($"[{string.Join(", ", pool.Gather(squares))}]");
        """;

    [Fact]
    public async Task A_fresh_console_project_with_the_package_and_the_tools_from_a_feed_runs_the_quickstart_on_a_LocalCluster()
    {
        var project = Path.Combine(_root, "Quickstart");
        Directory.CreateDirectory(_root);
        // The user's NuGet sources: the feed for our packages, nuget.org for the rest. Restored into a
        // package folder of its own, so that a Distributed of the same version restored on this machine
        // before (from another branch at the same commit count) is never taken for ours; the machine's
        // package folder is a read-only fallback for the rest (Akka and the like), so nothing is downloaded
        // that this machine already has. When that folder holds one of our packages at this version, it
        // is left out (the rest then comes from nuget.org).
        var machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var machineHasOurs = PackedFeed.Projects.Any(id => Directory.Exists(Path.Combine(machinePackages, id.ToLowerInvariant(), feed.Version.ToLowerInvariant())));
        if (machineHasOurs) output.WriteLine($"{machinePackages} holds a package of ours at {feed.Version}: restoring without it as a fallback.");
        await File.WriteAllTextAsync(Path.Combine(_root, "nuget.config"), NuGetConfig(feed.Directory, machineHasOurs ? null : machinePackages));
        var settings = new CommandSettings(_root, new Dictionary<string, string?>
        {
            ["NUGET_PACKAGES"] = Path.Combine(_root, "packages"),
            // The program must find the tools as a user's would: not through the tests' own variables.
            ["DISTRIBUTED_BIN"] = null,
            ["DISTRIBUTED_CREDENTIALS"] = null,
        }, StepTimeout);
        var inProject = settings with { WorkingDirectory = project };
        var steps = new List<string>();
        async Task<string> Step(string name, CommandSettings where, params string[] arguments)
        {
            var watch = Stopwatch.StartNew();
            var printed = await RunToSuccessAsync(where, "dotnet", arguments);
            steps.Add($"{name} {watch.Elapsed.TotalSeconds:F1} s");
            return printed;
        }

        await Step("new console", settings, "new", "console", "--name", "Quickstart", "--output", project);
        await File.WriteAllTextAsync(Path.Combine(project, "Program.cs"), Quickstart);
        await Step("add package", inProject, "add", "package", "Distributed", "--version", feed.Version);
        await Step("tool manifest", inProject, "new", "tool-manifest");
        await Step("install dcenter", inProject, "tool", "install", "dcenter", "--version", feed.Version);
        await Step("install dworker", inProject, "tool", "install", "dworker", "--version", feed.Version);
        await Step("build", inProject, "build", "--disable-build-servers", "-nologo", "-v:q");
        var printed = await Step("run", inProject, Path.Combine(project, "bin", "Debug", "net10.0", "Quickstart.dll"));

        output.WriteLine($"pack (once per run, shared) {feed.PackTime.TotalSeconds:F1} s; {string.Join("; ", steps)}");
        var lines = printed.Split('\n', StringSplitOptions.TrimEntries);
        Assert.True(lines.Contains("-285") && lines.Contains("[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"),
            $"The quickstart should print -285 and the squares. It printed:{Environment.NewLine}{printed}");
        // Nothing of the repository's build is beside the program: the cluster ran the tools from the package folder.
        Assert.False(File.Exists(Path.Combine(project, "bin", "Debug", "net10.0", "dworker.dll")));
        Assert.True(File.Exists(Path.Combine(_root, "packages", "dworker", feed.Version.ToLowerInvariant(), "tools", "net10.0", "any", "dworker.dll")));
    }

    private static string NuGetConfig(string feed, string? fallbackFolder) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <clear />
            <add key="distributed" value="{feed}" />
            <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
          </packageSources>
          <packageSourceMapping>
            <packageSource key="distributed">
              <package pattern="Distributed" />
              <package pattern="Distributed.*" />
              <package pattern="dcenter" />
              <package pattern="dworker" />
            </packageSource>
            <packageSource key="nuget.org">
              <package pattern="*" />
            </packageSource>
          </packageSourceMapping>
          <fallbackPackageFolders>
            <clear />
            {(fallbackFolder is null ? "" : $"<add key=\"machine\" value=\"{fallbackFolder}\" />")}
          </fallbackPackageFolders>
        </configuration>
        """;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

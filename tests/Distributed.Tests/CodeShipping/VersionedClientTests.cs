using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Distributed.Hosting;
using Xunit.Abstractions;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// Two real builds of one client program (tests/Fixtures/VersionedClient, same assembly name,
/// different code) against the same workers: one after the other and at once, each gets its own
/// behaviour. The builds and a plain cluster are made once for the class.
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed class VersionedClientTests(VersionedClientFixture fixture, ITestOutputHelper output) : IClassFixture<VersionedClientFixture>
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Two_builds_of_one_program_used_one_after_the_other_each_run_their_own_code()
    {
        foreach (var variant in new[] { 1, 2, 1, 2 })
        {
            var client = StartClient(variant, rounds: 1);
            await WaitForExitAsync(client, $"variant {variant} run alone");
            AssertPrintedItsOwnResults(client, variant, rounds: 1);
        }

        await AssertEachBuildReachedTheWorkersOnceByContentAsync();
    }

    [Fact]
    public async Task Two_builds_of_one_program_used_at_once_each_run_their_own_code()
    {
        const int Rounds = 4;
        var go = Path.Combine(fixture.Root, $"go-{Guid.NewGuid():N}");
        var first = StartClient(1, Rounds, go);
        var second = StartClient(2, Rounds, go);
        try
        {
            // Both connected before either submits anything, so that their tasks overlap.
            await Task.WhenAll(
                first.WaitForLineAsync(l => l == "variant v1 ready", ClientTimeout),
                second.WaitForLineAsync(l => l == "variant v2 ready", ClientTimeout));
            await File.WriteAllTextAsync(go, "go");

            await Task.WhenAll(WaitForExitAsync(first, "variant 1 run at once with variant 2"), WaitForExitAsync(second, "variant 2 run at once with variant 1"));
        }
        finally
        {
            first.Kill();
            second.Kill();
        }

        AssertPrintedItsOwnResults(first, 1, Rounds);
        AssertPrintedItsOwnResults(second, 2, Rounds);
        await AssertEachBuildReachedTheWorkersOnceByContentAsync();
    }

    /// <summary>
    /// Issue 15: variant N references version N.0.0 of a package whose native library has the same file name
    /// in both (libnativeversion.so, called through its wrapper's LibraryImport) and answers N. Run at once on
    /// the same workers, each client gets its own library's answer on every task.
    /// </summary>
    [SkippableFact]
    public async Task Two_builds_with_different_versions_of_one_native_library_used_at_once_each_call_their_own()
    {
        Skip.If(fixture.NativeUnavailable is not null, fixture.NativeUnavailable);
        output.WriteLine($"the fixture's gcc and the two packs of the native package took {fixture.NativePackTime.TotalSeconds:F1} s, the two client builds {fixture.ClientBuildTime.TotalSeconds:F1} s");
        const int Rounds = 3;
        var go = Path.Combine(fixture.Root, $"go-{Guid.NewGuid():N}");
        var first = StartClient(1, Rounds, go, native: true);
        var second = StartClient(2, Rounds, go, native: true);
        try
        {
            // Both connected before either submits anything, so that their tasks overlap.
            await Task.WhenAll(
                first.WaitForLineAsync(l => l == "variant v1 ready", ClientTimeout),
                second.WaitForLineAsync(l => l == "variant v2 ready", ClientTimeout));
            await File.WriteAllTextAsync(go, "go");

            await Task.WhenAll(WaitForExitAsync(first, "native version 1 at once with 2"), WaitForExitAsync(second, "native version 2 at once with 1"));
        }
        finally
        {
            first.Kill();
            second.Kill();
        }

        foreach (var (client, version) in new[] { (first, 1), (second, 2) })
        {
            Assert.Contains($"native here: {version}", client.Output); // the client's own call, for comparison
            for (var round = 0; round < Rounds; round++)
                Assert.True(client.Output.Contains($"round {round} native: {string.Join(",", Enumerable.Repeat(version, 8))}"),
                    $"Variant {version} should get its native library's answer {version} from every task of round {round}. Its output:{Environment.NewLine}{string.Join(Environment.NewLine, client.Output)}");
        }
        var stats = await fixture.Pool.TransferStatsAsync();
        // Both native files (one name, two contents) reached one worker, each by its own hash.
        Assert.True(stats.Values.Any(s => s.AssembliesReceived.Where(a => a.StartsWith("libnativeversion.so:", StringComparison.Ordinal)).Distinct().Count() == 2),
            $"A worker should have run both versions side by side; they received: {string.Join("; ", stats.Select(s => $"{s.Key}: {string.Join(", ", s.Value.AssembliesReceived)}"))}.");
    }

    private ClusterProcess StartClient(int variant, int rounds, string? startWhen = null, bool native = false)
    {
        List<string> arguments = [fixture.Cluster.Address, "--rounds", rounds.ToString()];
        if (startWhen is not null) arguments.AddRange(["--start-when", startWhen]);
        if (native) arguments.Add("--native");
        return ClusterProcess.Start(fixture.BuildOf(variant), "VersionedClient", arguments, fixture.Cluster.ClientEnvironment);
    }

    private static async Task WaitForExitAsync(ClusterProcess client, string phase)
    {
        using var timeout = new CancellationTokenSource(ClientTimeout);
        try
        {
            await client.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            client.Kill();
            Assert.Fail($"{phase}: the client (pid {client.Id}) did not finish within {ClientTimeout.TotalSeconds:0} s. Its output:{Environment.NewLine}{string.Join(Environment.NewLine, client.Output)}");
        }
        Assert.True(client.ExitCode == 0, $"{phase}: the client exited with code {client.ExitCode}. Its output:{Environment.NewLine}{string.Join(Environment.NewLine, client.Output)}");
    }

    private static void AssertPrintedItsOwnResults(ClusterProcess client, int variant, int rounds)
    {
        var factor = variant == 1 ? 10 : 100;
        var label = $"v{variant}";
        var values = Enumerable.Range(0, 10).Select(x => x * factor).ToList();
        var output = client.Output;
        var shown = string.Join(Environment.NewLine, output);
        for (var round = 0; round < rounds; round++)
        {
            Assert.True(output.Contains($"round {round} results: {string.Join(",", values)}"),
                $"Variant {variant} should compute x*{factor} in round {round}. Its output:{Environment.NewLine}{shown}");
            Assert.True(output.Contains($"round {round} labels: {string.Join(",", values.Select(v => $"{v}@{label}"))}"),
                $"Variant {variant} should build its own records labelled {label} in round {round}. Its output:{Environment.NewLine}{shown}");
        }
        Assert.Contains("done", output);
    }

    /// <summary>Each worker received each build's VersionedClient.dll at most once, under the hash of that build's file.</summary>
    private async Task AssertEachBuildReachedTheWorkersOnceByContentAsync()
    {
        var builds = new[] { 1, 2 }.ToDictionary(v => v, v => "VersionedClient:" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(fixture.BuildOf(v), "VersionedClient.dll")))));
        Assert.NotEqual(builds[1], builds[2]);
        var stats = await fixture.Pool.TransferStatsAsync();
        var received = stats.SelectMany(s => s.Value.AssembliesReceived.Where(a => a.StartsWith("VersionedClient:", StringComparison.Ordinal)).Select(a => (Worker: s.Key, Entry: a))).ToList();
        var shown = string.Join(", ", received.Select(r => $"{r.Worker} ← {r.Entry}"));
        Assert.All(received, r => Assert.Contains(r.Entry, builds.Values));
        Assert.True(received.Any(r => r.Entry == builds[1]) && received.Any(r => r.Entry == builds[2]), $"Both builds should have reached the workers; they received: {shown}.");
        Assert.True(received.Count == received.Distinct().Count(), $"A worker received one build more than once: {shown}.");
        Assert.True(received.GroupBy(r => r.Worker).Any(g => g.Count() == 2), $"The two builds should have run side by side on at least one worker; the workers received: {shown}.");
    }
}

/// <summary>
/// Builds tests/Fixtures/VersionedClient as Variant 1 and Variant 2 into temporary folders, and starts a plain cluster.
/// When gcc is there, it first compiles the NativeVersion fixture's native library as version 1 and 2 and packs
/// each into a package of that version (tests/Fixtures/NativeVersion), which variant N references.
/// </summary>
public sealed class VersionedClientFixture : IAsyncLifetime
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);

    private PlainCluster? _plain;

    /// <summary>The temporary folder holding the builds.</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "distributed-tests", "versioned-client-" + Guid.NewGuid().ToString("N")[..12]);
    public LocalCluster Cluster => _plain!.Cluster;
    public Pool Pool => _plain!.Pool;

    /// <summary>Why the builds have no native fixture package (no gcc), or null when they have one.</summary>
    public string? NativeUnavailable { get; private set; }

    /// <summary>How long compiling and packing the native fixture took, and then building the two clients.</summary>
    public TimeSpan NativePackTime { get; private set; }
    public TimeSpan ClientBuildTime { get; private set; }

    /// <summary>The output folder of one build.</summary>
    public string BuildOf(int variant) => Path.Combine(Root, $"variant{variant}", "out");

    private string NativeFeed => Path.Combine(Root, "native-feed");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        var fixtures = Path.Combine(RepositoryRoot(), "tests", "Fixtures");
        var project = Path.Combine(fixtures, "VersionedClient", "VersionedClient.csproj");
        // Each build has its own artifacts folder (obj/ included, for Distributed too), so the two
        // never share intermediate files with each other nor with anyone building the repository.
        // The cluster starts after the builds: two compilers on two cores starve a starting worker.
        try
        {
            NativeUnavailable = FindOnPath("gcc") is null ? "gcc is not installed (.ci/run installs Debian's gcc when it runs as root)" : null;
            var watch = Stopwatch.StartNew();
            if (NativeUnavailable is null)
                await Task.WhenAll(PackNativeVersionAsync(fixtures, 1), PackNativeVersionAsync(fixtures, 2));
            NativePackTime = watch.Elapsed;
            watch.Restart();
            await Task.WhenAll(BuildAsync(project, 1), BuildAsync(project, 2));
            ClientBuildTime = watch.Elapsed;
            _plain = await PlainCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        }
        catch
        {
            // xUnit does not dispose a fixture that failed to start; PlainCluster stops what it started.
            DeleteRoot();
            throw;
        }
    }

    /// <summary>Compiles the native library as <paramref name="version"/> and packs it as package version N.0.0 into the native feed.</summary>
    private async Task PackNativeVersionAsync(string fixtures, int version)
    {
        var directory = Path.Combine(Root, $"native{version}");
        Directory.CreateDirectory(directory);
        var library = Path.Combine(directory, "libnativeversion.so");
        await RunAsync($"gcc for native version {version}", "gcc",
            ["-shared", "-fPIC", "-O2", $"-DNATIVE_VERSION={version}", "-o", library, Path.Combine(fixtures, "NativeVersion", "native", "nativeversion.c")]);
        await RunAsync($"packing native version {version}", "dotnet",
        [
            "pack", Path.Combine(fixtures, "NativeVersion", "NativeVersion.csproj"), "-c", "Release", $"-p:Version={version}.0.0",
            $"-p:NativeLibrary={library}", $"-p:NativeRuntimeId={RuntimeInformation.RuntimeIdentifier}",
            "-o", NativeFeed, "--artifacts-path", Path.Combine(directory, "artifacts"), "--disable-build-servers", "-nologo", "-v:minimal",
        ]);
    }

    private async Task BuildAsync(string project, int variant)
    {
        var directory = Path.Combine(Root, $"variant{variant}");
        List<string> arguments =
        [
            "build", project, "-c", "Debug", $"-p:Variant={variant}",
            "-o", Path.Combine(directory, "out"), "--artifacts-path", Path.Combine(directory, "artifacts"),
            "--disable-build-servers", "-nologo", "-v:minimal",
        ];
        if (NativeUnavailable is null)
        {
            // The fixture packages restore into a folder of this run (the machine's package folder is a
            // read-only fallback for the rest), so a changed fixture is never hidden by an old copy of 1.0.0.
            var machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
                ? configured : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            arguments.AddRange([$"-p:NativeVersionFeed={NativeFeed}", $"-p:RestorePackagesPath={Path.Combine(directory, "packages")}", $"-p:RestoreFallbackFolders={machinePackages}"]);
        }
        await RunAsync($"building VersionedClient variant {variant}", "dotnet", arguments);
        if (!File.Exists(Path.Combine(directory, "out", "VersionedClient.dll")))
            throw new InvalidOperationException($"Building VersionedClient variant {variant} wrote no VersionedClient.dll.");
    }

    private static async Task RunAsync(string what, string file, IReadOnlyList<string> arguments)
    {
        Protocol.ChildProcessSwitch.ThrowIfForbidden(what);
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        // Under 'dotnet test' the test host inherits the outer build's MSBuild variables; a nested build must not.
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(n => n.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(name);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(BuildTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{what} took more than {BuildTimeout.TotalMinutes:0} minutes.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{what} failed (exit code {process.ExitCode}):{Environment.NewLine}{await output}{Environment.NewLine}{await errors}");
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program)).FirstOrDefault(File.Exists);

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Distributed.sln"))) return directory.FullName;
        throw new DirectoryNotFoundException($"No Distributed.sln above {AppContext.BaseDirectory}.");
    }

    public async Task DisposeAsync()
    {
        if (_plain is not null) await _plain.DisposeAsync();
        DeleteRoot();
    }

    private void DeleteRoot()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

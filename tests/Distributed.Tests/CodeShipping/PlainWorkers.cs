using System.Text.Json;
using Distributed.Hosting;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// A folder holding only what the <c>dcenter</c> and <c>dworker</c> programs ship with (the files
/// their <c>.deps.json</c> name), copied from the test output. The test output also holds the test
/// assembly and NodaTime; workers started from here can only run the tests' code if it was shipped.
/// </summary>
public sealed class PlainPrograms : IDisposable
{
    private static readonly string[] Programs = ["dcenter", "dworker"];

    private PlainPrograms(string directory) => Directory = directory;

    /// <summary>The folder to give to <see cref="LocalCluster.StartAsync"/>.</summary>
    public string Directory { get; }

    /// <summary>The simple names of every assembly a plain worker has on disk (its own and what it depends on).</summary>
    public IReadOnlySet<string> AssemblyNames =>
        System.IO.Directory.EnumerateFiles(Directory, "*.dll", SearchOption.TopDirectoryOnly)
            .Select(Path.GetFileNameWithoutExtension)
            .ToHashSet(StringComparer.OrdinalIgnoreCase)!;

    /// <summary>Copies the programs and their own dependencies from the test output into a new temporary folder.</summary>
    public static PlainPrograms Create()
    {
        var source = AppContext.BaseDirectory;
        var target = Path.Combine(Path.GetTempPath(), "distributed-tests", "plain-programs-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(target);
        var files = new HashSet<string>(StringComparer.Ordinal);
        foreach (var program in Programs)
        {
            files.Add(program + ".dll");
            files.Add(program + ".deps.json");
            files.Add(program + ".runtimeconfig.json");
            files.UnionWith(FilesNamedBy(Path.Combine(source, program + ".deps.json")));
        }
        foreach (var file in files)
        {
            var from = Path.Combine(source, file);
            if (!File.Exists(from)) continue; // e.g. a runtime-specific file the build did not copy
            var to = Path.Combine(target, file);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to);
        }
        var plain = new PlainPrograms(target);
        // The point of this folder: the workers cannot find the client's code on their own disk.
        foreach (var clientOnly in new[] { "Distributed.Tests", "NodaTime" })
            if (plain.AssemblyNames.Contains(clientOnly))
                throw new InvalidOperationException($"{clientOnly}.dll was copied into the plain programs folder {target}; the dworker's dependencies should not include it.");
        return plain;
    }

    /// <summary>The app-relative paths of the files a program's deps.json lists (assemblies, runtime-specific assemblies, satellite resources).</summary>
    private static IEnumerable<string> FilesNamedBy(string depsJson)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(depsJson));
        var root = document.RootElement;
        var targetName = root.GetProperty("runtimeTarget").GetProperty("name").GetString()!;
        foreach (var library in root.GetProperty("targets").GetProperty(targetName).EnumerateObject())
        {
            if (library.Value.TryGetProperty("runtime", out var runtime))
                foreach (var file in runtime.EnumerateObject()) yield return Path.GetFileName(file.Name);
            if (library.Value.TryGetProperty("runtimeTargets", out var runtimeTargets))
                foreach (var file in runtimeTargets.EnumerateObject()) yield return file.Name;
            if (library.Value.TryGetProperty("resources", out var resources))
                foreach (var file in resources.EnumerateObject())
                    yield return Path.Combine(Path.GetFileName(Path.GetDirectoryName(file.Name))!, Path.GetFileName(file.Name));
        }
    }

    /// <summary>Deletes the folder (once the processes started from it are stopped).</summary>
    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// A real cluster (a dcenter and dworker processes on 127.0.0.1) started from a fresh
/// <see cref="PlainPrograms"/> folder, with a connected Pool: the workers have never seen the tests' code.
/// </summary>
public sealed class PlainCluster : IAsyncDisposable
{
    private PlainCluster(PlainPrograms programs, LocalCluster cluster, Pool pool) => (Programs, Cluster, Pool) = (programs, cluster, pool);

    public PlainPrograms Programs { get; }
    public LocalCluster Cluster { get; }
    public Pool Pool { get; }

    /// <summary>Starts the cluster; whatever was started is stopped again when a step fails.</summary>
    public static async Task<PlainCluster> StartAsync(int workers, int threadsPerWorker)
    {
        var programs = PlainPrograms.Create();
        LocalCluster? cluster = null;
        try
        {
            cluster = await LocalCluster.StartAsync(workers, threadsPerWorker, binDirectory: programs.Directory);
            return new PlainCluster(programs, cluster, await cluster.ConnectAsync());
        }
        catch
        {
            if (cluster is not null) await cluster.DisposeAsync();
            programs.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Pool.DisposeAsync();
        await Cluster.DisposeAsync();
        Programs.Dispose();
    }
}

/// <summary>The plain cluster (two workers of two threads) shared by the code shipping tests that do not need one of their own.</summary>
public sealed class PlainWorkersFixture : IAsyncLifetime
{
    private PlainCluster _plain = null!;

    public PlainPrograms Programs => _plain.Programs;
    public LocalCluster Cluster => _plain.Cluster;
    public Pool Pool => _plain.Pool;

    public async Task InitializeAsync() => _plain = await PlainCluster.StartAsync(workers: 2, threadsPerWorker: 2);

    public async Task DisposeAsync()
    {
        if (_plain is not null) await _plain.DisposeAsync();
    }
}

/// <summary>
/// Every code shipping test class, run one class at a time: the classes that need a cluster of their
/// own (or two builds of a client) then never start processes at the same time as each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PlainWorkersCollection : ICollectionFixture<PlainWorkersFixture>
{
    public const string Name = "plain workers cluster";
}

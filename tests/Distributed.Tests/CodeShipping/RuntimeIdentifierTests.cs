using System.Runtime.InteropServices;
using Distributed.Client;
using Distributed.Hosting;
using Distributed.Protocol;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// A worker of another runtime identifier than the client's: plain workers that claim one
/// (<c>distributed.worker.runtime-identifier</c>) are sent the native files of that RID from the packages
/// the code reaches (SQLitePCLRaw.lib.e_sqlite3 has linux-x64, linux-arm64, win-x64... under
/// runtimes/RID/native), and a RID the package has nothing for fails the tasks naming both.
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed class RuntimeIdentifierTests
{
    private const string NativePackage = "SQLitePCLRaw.lib.e_sqlite3";

    [Fact]
    public async Task A_worker_claiming_another_RID_gets_that_RIDs_native_file_and_one_of_a_RID_without_any_a_clear_error()
    {
        var other = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-x64" : "linux-arm64";
        var othersFile = NativeFileHash(other);
        var ownFile = NativeFileHash(RuntimeInformation.RuntimeIdentifier);
        Assert.NotEqual(othersFile, ownFile);
        using var programs = PlainPrograms.Create();
        await using var cluster = await LocalCluster.StartAsync(workers: 0, binDirectory: programs.Directory);
        await using var pool = await cluster.ConnectAsync();

        var claiming = await StartWorkerAsync(cluster, programs, other);
        try
        {
            // Every lambda of the tests' assembly carries SQLite's natives (the assembly references the package);
            // this one loads none, so the other RID's file is fetched and never loaded.
            Assert.Equal([2], pool.Gather(pool.Map(static x => x + 1, [1])));
            var received = Assert.Single((await pool.TransferStatsAsync()).Values).AssembliesReceived;
            Assert.Contains($"libe_sqlite3.so:{othersFile}", received);
            Assert.DoesNotContain($"libe_sqlite3.so:{ownFile}", received);
        }
        finally
        {
            await claiming.StopAsync(TimeSpan.FromSeconds(10));
        }

        var without = await StartWorkerAsync(cluster, programs, "freebsd-x64");
        try
        {
            var error = Assert.Throws<RemoteTaskException>(() => pool.Map(static x => x + 2, [1]));
            Assert.Contains($"The package {NativePackage} has no native library for this worker's runtime freebsd-x64", error.RemoteMessage);
        }
        finally
        {
            await without.StopAsync(TimeSpan.FromSeconds(10));
        }
    }

    private static async Task<ClusterProcess> StartWorkerAsync(LocalCluster cluster, PlainPrograms programs, string runtimeId)
    {
        var environment = new Dictionary<string, string>(cluster.ClientEnvironment) { ["DISTRIBUTED__WORKER__RUNTIME_IDENTIFIER"] = runtimeId };
        var worker = ClusterProcess.Start(programs.Directory, "dworker",
            [cluster.Address, "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString(), "--nthreads", "1"], environment);
        try
        {
            await worker.WaitForLineAsync(l => l.StartsWith("Registered with center at:", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            return worker;
        }
        catch
        {
            worker.Kill();
            throw;
        }
    }

    /// <summary>The content hash of the package's native file for <paramref name="runtimeId"/>, as this program's deps.json finds it.</summary>
    private static string NativeFileHash(string runtimeId)
    {
        var program = ProgramDeps.OfThisProcess()!;
        var library = Assert.Single(program.Deps.Libraries, l => l.Name == NativePackage);
        var native = Assert.Single(library.Natives, n => n.RuntimeId == runtimeId && Path.GetFileName(n.Path) == "libe_sqlite3.so");
        var path = program.Locate(library, native.Path, native.InProgramFolder)!;
        return ContentAddress.AssemblyHashOf(File.ReadAllBytes(path));
    }
}

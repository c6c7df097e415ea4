using System.Diagnostics;
using System.Reflection;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// A package with a native library and an assembly it loads by name runs on plain workers: SQLite
/// (Microsoft.Data.Sqlite loads the bundle SQLitePCLRaw.batteries_v2 by reflection, whose provider
/// DllImports e_sqlite3, a native file under runtimes/RID/native that no static reference names).
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed class NativeShippingTests(PlainWorkersFixture fixture, ITestOutputHelper output)
{
    private Pool Pool => fixture.Pool;

    private static readonly IReadOnlyList<int> Inputs = Enumerable.Range(0, 6).ToList();

    [Fact]
    public void Map_runs_an_in_memory_Sqlite_query_on_workers_without_Sqlite()
    {
        AssertWorkersLackSqlite(fixture.Programs);

        var results = Pool.Map(static x => SquareInSqlite(x), Inputs);

        Assert.Equal(Inputs.Select(x => (long)x * x), Pool.Gather(results));
    }

    [Fact]
    public void Map_runs_a_package_that_calls_its_native_library_through_DllImport()
    {
        AssertWorkersLackSqlite(fixture.Programs);

        var versions = Pool.Map(static _ => SqliteLibraryVersion(), Inputs);

        Assert.All(Pool.Gather(versions), v => Assert.Equal(SqliteLibraryVersion(), v));
    }

    [Fact]
    public void Map_runs_code_that_loads_a_package_assembly_by_name()
    {
        AssertWorkersLackSqlite(fixture.Programs);

        // Only the package's public assembly is referenced; its bundle is asked for by name, as Microsoft.Data.Sqlite does.
        var names = Pool.Map(static _ => typeof(SqliteConnection).Assembly.GetName().Name + "+"
            + Assembly.Load(new AssemblyName("SQLitePCLRaw.batteries_v2")).GetName().Name, Inputs);

        Assert.All(Pool.Gather(names), n => Assert.Equal("Microsoft.Data.Sqlite+SQLitePCLRaw.batteries_v2", n));
    }

    /// <summary>
    /// Not a timed test (nothing is asserted about time): it records once what a new worker's first
    /// SQLite task costs (fetching the native library and the assemblies) against the second.
    /// </summary>
    [Fact]
    public async Task A_new_worker_fetches_the_native_library_once_and_then_runs_from_its_cache()
    {
        await using var cluster = await PlainCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        AssertWorkersLackSqlite(cluster.Programs);
        // This code version's first task: the worker fetches its assemblies and natives (libe_sqlite3.so for
        // this RID too: the manifest is per assembly) and an executor takes them.
        var fetching = Stopwatch.StartNew();
        _ = cluster.Pool.Gather(cluster.Pool.Map(static x => x + 1, [1]));
        fetching.Stop();

        var first = Stopwatch.StartNew();
        var firstResults = cluster.Pool.Gather(cluster.Pool.Map(static x => SquareInSqlite(x), [3]));
        first.Stop();
        var second = Stopwatch.StartNew();
        var secondResults = cluster.Pool.Gather(cluster.Pool.Map(static x => SquareInSqlite(x) + 1, [3]));
        second.Stop();

        Assert.Equal([9L], firstResults);
        Assert.Equal([10L], secondResults);
        output.WriteLine($"first task of the code version (fetch and executor): {fetching.Elapsed.TotalMilliseconds:F0} ms; "
            + $"first SQLite task (load, dlopen, JIT): {first.Elapsed.TotalMilliseconds:F0} ms; second SQLite task: {second.Elapsed.TotalMilliseconds:F0} ms");
    }

    /// <summary>
    /// Calls e_sqlite3 through the provider's DllImport. The connection's type initializer installs the
    /// provider (loading the bundle by name): the tests never name the bundle, so it is no static reference.
    /// </summary>
    private static int SqliteLibraryVersion()
    {
        using var connection = new SqliteConnection();
        return SQLitePCL.raw.sqlite3_libversion_number();
    }

    private static long SquareInSqlite(int x)
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "create table t(v integer); insert into t values ($x); select v * v from t;";
        command.Parameters.AddWithValue("$x", x);
        return (long)command.ExecuteScalar()!;
    }

    private static void AssertWorkersLackSqlite(PlainPrograms programs)
    {
        Assert.DoesNotContain("Microsoft.Data.Sqlite", programs.AssemblyNames);
        Assert.DoesNotContain("SQLitePCLRaw.batteries_v2", programs.AssemblyNames);
        Assert.Empty(Directory.EnumerateFiles(programs.Directory, "*e_sqlite3*", SearchOption.AllDirectories));
    }
}

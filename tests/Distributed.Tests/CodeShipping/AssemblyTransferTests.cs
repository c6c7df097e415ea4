using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Distributed.Data;
using Distributed.Hosting;
using NodaTime;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// Which assemblies reach the workers, read from the workers' own transfer stats: each worker gets
/// the user's assemblies once, named by content, and never the framework's nor ours. Each test has
/// its own cluster, so that what a worker received comes from that test alone.
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed partial class AssemblyTransferTests : IAsyncLifetime
{
    private PlainCluster _plain = null!;

    private Pool Pool => _plain.Pool;
    private LocalCluster Cluster => _plain.Cluster;
    private PlainPrograms Programs => _plain.Programs;

    public async Task InitializeAsync() => _plain = await PlainCluster.StartAsync(workers: 2, threadsPerWorker: 1);

    public async Task DisposeAsync()
    {
        if (_plain is not null) await _plain.DisposeAsync();
    }

    private static readonly LocalDate Epoch = new(2020, 2, 29);

    private static List<RemoteData<LocalDate>> MapDates(Pool pool) =>
        pool.Map(days => Epoch.PlusDays(days), Enumerable.Range(0, 40));

    [Fact]
    public async Task Assemblies_travel_once_per_worker_however_many_maps_use_them()
    {
        var first = MapDates(Pool);
        var ranFirst = Holders(first);
        var afterFirst = await Pool.TransferStatsAsync();

        var second = MapDates(Pool); // the same code again
        var third = Pool.Map(days => Period.FromDays(days).Days, Enumerable.Range(0, 40)); // other code, same assemblies
        Assert.Equal(Enumerable.Range(0, 40).Select(d => Epoch.PlusDays(d)), Pool.Gather(second));
        Assert.Equal(Enumerable.Range(0, 40), Pool.Gather(third));
        var afterAll = await Pool.TransferStatsAsync();

        AssertNoAssemblyReceivedTwice(afterAll);
        foreach (var worker in ranFirst)
            Assert.True(afterFirst[worker].AssembliesReceived.SequenceEqual(afterAll[worker].AssembliesReceived),
                $"Worker {worker} ran the first Map, so it had every assembly the later Maps need; " +
                $"after the first Map it had received [{string.Join(", ", afterFirst[worker].AssembliesReceived)}], " +
                $"after the others [{string.Join(", ", afterAll[worker].AssembliesReceived)}].");
    }

    [Fact]
    public async Task Maps_of_new_code_submitted_at_once_make_each_worker_receive_its_assemblies_once()
    {
        await using var other = await Cluster.ConnectAsync();
        var submitted = new[]
        {
            Pool.MapAsync(days => Epoch.PlusDays(days), Enumerable.Range(0, 30)),
            Pool.MapAsync(days => Epoch.PlusDays(-days), Enumerable.Range(0, 30)),
            other.MapAsync(days => Epoch.PlusDays(2 * days), Enumerable.Range(0, 30)),
        };
        var results = await Task.WhenAll(submitted);

        Assert.Equal(Enumerable.Range(0, 30).Select(d => Epoch.PlusDays(-d)), await Pool.GatherAsync(results[1]));
        Assert.Equal(Enumerable.Range(0, 30).Select(d => Epoch.PlusDays(2 * d)), await other.GatherAsync(results[2]));
        AssertNoAssemblyReceivedTwice(await Pool.TransferStatsAsync());
    }

    [Fact]
    public async Task A_second_client_of_the_same_build_makes_no_worker_receive_its_assemblies_again()
    {
        var ranFirst = Holders(MapDates(Pool));
        var afterFirst = await Pool.TransferStatsAsync();

        await using (var other = await Cluster.ConnectAsync())
        {
            var dates = MapDates(other);
            Assert.Equal(Enumerable.Range(0, 40).Select(d => Epoch.PlusDays(d)), other.Gather(dates));
        }
        var afterSecond = await Pool.TransferStatsAsync();

        AssertNoAssemblyReceivedTwice(afterSecond);
        foreach (var worker in ranFirst)
            Assert.True(afterFirst[worker].AssembliesReceived.SequenceEqual(afterSecond[worker].AssembliesReceived),
                $"Worker {worker} already had this build's assemblies, yet after the second client it had received " +
                $"[{string.Join(", ", afterSecond[worker].AssembliesReceived)}] instead of [{string.Join(", ", afterFirst[worker].AssembliesReceived)}].");
    }

    [Fact]
    public async Task Only_the_users_assemblies_travel_named_by_the_hash_of_their_content()
    {
        var dates = MapDates(Pool);
        Assert.Equal(Enumerable.Range(0, 40).Select(d => Epoch.PlusDays(d)), Pool.Gather(dates));
        var stats = await Pool.TransferStatsAsync();

        var received = stats.SelectMany(s => s.Value.AssembliesReceived.Select(entry => (Worker: s.Key, Entry: entry))).ToList();
        Assert.All(received, r => Assert.Matches(NameAndHash(), r.Entry));
        var frameworkNames = Directory.EnumerateFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll")
            .Select(Path.GetFileNameWithoutExtension).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var workerOwnNames = Programs.AssemblyNames;
        foreach (var (worker, entry) in received)
        {
            var name = entry[..entry.LastIndexOf(':')];
            Assert.False(frameworkNames.Contains(name), $"Worker {worker} received {name}, an assembly of the .NET shared framework.");
            Assert.False(name == "System" || name.StartsWith("System.", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("Microsoft.NETCore", StringComparison.OrdinalIgnoreCase)
                || name is "mscorlib" or "netstandard", $"Worker {worker} received the framework assembly {name}.");
            // Akka.TestKit is the test program's own dependency (no worker has it), so it may travel;
            // the Akka packages that Distributed itself uses must not.
            Assert.False((name.StartsWith("Akka", StringComparison.OrdinalIgnoreCase) && name != "Akka.TestKit" && name != "Akka.TestKit.Xunit2")
                || name.StartsWith("Hyperion", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("DotNetty", StringComparison.OrdinalIgnoreCase)
                || name is "Distributed" or "Distributed.Protocol" or "Distributed.Data" or "Distributed.Worker" or "dworker" or "dcenter",
                $"Worker {worker} received {name}, which is ours or one of our dependencies.");
            // The test program references the center's assembly, which dworker does not carry (the
            // plain folder has it only because dcenter shares it): it travels like any user dependency.
            Assert.False(workerOwnNames.Contains(name) && name != "Distributed.Center", $"Worker {worker} received {name}, which every dworker already has.");
        }

        var expected = new[] { typeof(AssemblyTransferTests).Assembly, typeof(LocalDate).Assembly }
            .Select(a => $"{a.GetName().Name}:{Sha256(a.Location)}").ToList();
        foreach (var worker in Holders(dates))
            foreach (var entry in expected)
                Assert.True(stats[worker].AssembliesReceived.Contains(entry),
                    $"Worker {worker} ran a NodaTime lambda of the test assembly, so it must have received {entry}; " +
                    $"it received [{string.Join(", ", stats[worker].AssembliesReceived)}].");
    }

    /// <summary>The workers that hold (so ran) the tasks that made <paramref name="data"/>.</summary>
    private List<string> Holders<T>(IEnumerable<RemoteData<T>> data) =>
        data.SelectMany(d => Pool.WhoHas(d)).Distinct().ToList();

    private static void AssertNoAssemblyReceivedTwice(IReadOnlyDictionary<string, WorkerTransferStats> stats)
    {
        foreach (var (worker, workerStats) in stats)
        {
            var twice = workerStats.AssembliesReceived.GroupBy(a => a).Where(g => g.Count() > 1).Select(g => $"{g.Key} ×{g.Count()}").ToList();
            Assert.True(twice.Count == 0, $"Worker {worker} received some assemblies more than once: {string.Join(", ", twice)}.");
        }
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [GeneratedRegex("^[^:]+:[0-9a-f]{64}$")]
    private static partial Regex NameAndHash();
}

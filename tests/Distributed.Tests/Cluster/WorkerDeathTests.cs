using Distributed.Dask;
using Distributed.Hosting;
using Distributed.Protocol;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A worker killed with SIGKILL (with its executors, as when its machine dies) during a computation
/// and between computations: results stay right, lost values are made again from their lineage.
/// </summary>
[Collection(Name)]
[ProcessTier]
public sealed class WorkerDeathTests
{
    /// <summary>
    /// These tests kill, pause and start several clusters of their own: they run on their own, after
    /// the tests that run in parallel, so that a starved machine does not make workers miss their joins.
    /// </summary>
    public const string Name = "Killed and paused workers";

    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_map_finishes_with_the_right_results_when_a_worker_is_killed_in_the_middle()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        var running = pool.MapAsync(x => { Thread.Sleep(20); return x * 2; }, Enumerable.Range(0, 1_000));
        var victim = await KillWhenHoldingAsync(cluster, pool, keys => keys.Count >= 60);

        var results = await running.WaitAsync(Slow);

        Assert.Equal(Enumerable.Range(0, 1_000).Select(x => x * 2), await pool.GatherAsync(results));
        await Eventually.TrueAsync(() => pool.Workers().All(w => w.Name != victim), () => $"{victim} is still listed");
    }

    [Fact]
    public async Task A_graph_finishes_with_the_right_result_when_a_worker_is_killed_in_the_middle()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        Func<int, long> leaf = i => { Thread.Sleep(10); return i; };
        Func<long, long, long> add = (a, b) => { Thread.Sleep(5); return a + b; };
        var dsk = new Graph();
        var level = new List<string>();
        for (var i = 0; i < 512; i++)
        {
            dsk[$"leaf-{i}"] = (leaf, i);
            level.Add($"leaf-{i}");
        }
        for (var depth = 0; level.Count > 1; depth++)
        {
            var next = new List<string>();
            for (var i = 0; i < level.Count; i += 2)
            {
                dsk[$"sum-{depth}-{i / 2}"] = (add, level[i], level[i + 1]);
                next.Add($"sum-{depth}-{i / 2}");
            }
            level = next;
        }
        using var scheduler = ClusterScheduler.On(pool);
        var running = Task.Run(() => scheduler.Get(dsk, level[0]));
        await KillWhenHoldingAsync(cluster, pool, keys => keys.Any(k => k.StartsWith("sum-", StringComparison.Ordinal)));

        Assert.Equal(511L * 512 / 2, await running.WaitAsync(Slow));
    }

    [Fact]
    public async Task Results_whose_worker_died_after_the_map_are_made_again_for_gather_get_and_map()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        var squares = pool.Map(x => x * x, Enumerable.Range(0, 200));
        var holders = pool.HasWhat();
        var victim = holders.First(h => h.Value.Count > 0);
        var lostIndex = squares.FindIndex(s => victim.Value.Contains(s.Key));
        Assert.True(lostIndex >= 0, "the victim holds none of the results");

        ProcessOf(cluster, pool, victim.Key).Kill();
        await Eventually.TrueAsync(() => pool.Workers().All(w => w.Name != victim.Key), () => $"{victim.Key} is still listed", Slow);

        Assert.Equal(lostIndex * lostIndex, squares[lostIndex].Get());
        Assert.Equal(Enumerable.Range(0, 200).Select(x => x * x), pool.Gather(squares));
        var negated = pool.Map(x => -x, squares);
        Assert.Equal(Enumerable.Range(0, 200).Select(x => -x * x), pool.Gather(negated));
    }

    [Fact]
    public async Task A_killed_worker_is_noticed_from_its_dropped_connection_without_waiting_for_heartbeats()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var name = pool.Workers()[0].Name;
        var victim = ProcessOf(cluster, pool, name);

        victim.Kill();

        await Eventually.TrueAsync(() => pool.Workers().All(w => w.Name != name), () => $"{name} is still listed", Slow);
        await Eventually.TrueAsync(
            () => cluster.Center.Output.Any(l => l.Contains("refuses connections", StringComparison.Ordinal)),
            () => "the center did not notice the refused data port:" + Environment.NewLine + string.Join(Environment.NewLine, cluster.Center.Output.TakeLast(20)), Slow);
        Assert.Equal(4, pool.Apply(x => x + 1, 3).Get());
    }

    [Fact]
    public async Task A_task_that_kills_every_worker_it_runs_on_fails_after_three_deaths_naming_its_key()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 4, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();

        // User code runs in an executor process whose parent is the worker: this kills the worker.
        var error = await Assert.ThrowsAsync<RemoteTaskException>(() => pool.ApplyAsync(KillMyWorker, 7).WaitAsync(Slow));

        Assert.Equal(ErrorKind.WorkerDeath, error.Kind);
        Assert.Equal("Distributed.WorkerDeathException", error.RemoteTypeName);
        Assert.Contains(error.Key, error.RemoteMessage);
        Assert.Contains("3 workers", error.RemoteMessage);
        Assert.Single(pool.Workers());
        Assert.Equal(4, pool.Apply(x => x + 1, 3).Get());
    }

    [Fact]
    public async Task A_worker_paused_past_detection_is_downed_and_comes_back_as_a_new_worker_without_its_old_keys()
    {
        const int SigStop = 19, SigCont = 18;
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        var squares = pool.Map(x => x * x, Enumerable.Range(0, 100));
        var victim = pool.HasWhat().First(h => h.Value.Count > 0).Key;
        var process = ProcessOf(cluster, pool, victim);

        Assert.Equal(0, process.Signal(SigStop));
        try
        {
            await Eventually.TrueAsync(() => pool.Workers().Count == 1, () => $"{victim} is still listed while paused", Slow);
            Assert.Equal(Enumerable.Range(0, 100).Select(x => x * x), pool.Gather(squares));
        }
        finally
        {
            process.Signal(SigCont);
        }

        await Eventually.TrueAsync(() => pool.Workers().Count == 2, () => $"{victim} did not come back after it was resumed", Slow);
        Assert.False(process.HasExited);
        var back = pool.Workers().Single(w => w.Name == victim);
        Assert.Equal(0, back.KeyCount); // its old values were made again elsewhere: it must not claim them
        Assert.All(pool.HasWhat().Values.SelectMany(k => k).GroupBy(k => k), g => Assert.Single(g));
        Assert.Equal(Enumerable.Range(0, 100).Select(x => x * x), pool.Gather(squares));
        var again = pool.Map(x => x + 1, Enumerable.Range(0, 200));
        Assert.Equal(Enumerable.Range(1, 200), pool.Gather(again));
    }

    private static int KillMyWorker(int x)
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        System.Diagnostics.Process.GetProcessById(parent).Kill();
        return x;
    }

    /// <summary>Waits until some worker holds keys matching <paramref name="enough"/>, kills it and returns its name.</summary>
    private static async Task<string> KillWhenHoldingAsync(LocalCluster cluster, Pool pool, Func<IReadOnlyList<string>, bool> enough)
    {
        string? victim = null;
        await Eventually.TrueAsync(() =>
        {
            victim = pool.HasWhat().FirstOrDefault(h => enough(h.Value)).Key;
            return victim is not null;
        }, () => "no worker got far enough", Slow);
        ProcessOf(cluster, pool, victim!).Kill();
        return victim!;
    }

    /// <summary>The process of the worker the center knows as <paramref name="workerName"/>.</summary>
    internal static ClusterProcess ProcessOf(LocalCluster cluster, Pool pool, string workerName)
    {
        var address = pool.Workers().Single(w => w.Name == workerName).Address;
        // Only its own start line: other workers' warnings may name its address too.
        return cluster.Workers.Single(w => w.Output.Any(line => line.StartsWith("Start worker at:", StringComparison.Ordinal) && line.EndsWith(" " + address, StringComparison.Ordinal)));
    }
}

[CollectionDefinition(WorkerDeathTests.Name, DisableParallelization = true)]
public sealed class WorkerDeathCollection;

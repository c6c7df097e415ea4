using Distributed.Dask;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Graphs;

[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class ClusterGraphTests(LocalClusterFixture fixture)
{
    private static readonly Func<int, int> Inc = x => x + 1;
    private static readonly Func<int, int, int> Add = (x, y) => x + y;

    [Fact]
    public void Get_on_the_design_example_gives_two_from_a_real_cluster()
    {
        var dsk = new Graph { ["a"] = 1, ["b"] = (Inc, "a") };
        var address = fixture.Cluster.Address.Split(':');

        Assert.Equal(2, Scheduler.Get(address[0], int.Parse(address[1]), dsk, "b", credentials: fixture.Cluster.Credentials));
    }

    [Fact]
    public async Task A_tree_reduction_gives_what_the_local_scheduler_gives_and_leaves_nothing_behind()
    {
        var dsk = new Graph();
        for (var i = 0; i < 64; i++) dsk[$"leaf-{i}"] = (Inc, i);
        var level = Enumerable.Range(0, 64).Select(i => $"leaf-{i}").ToList();
        for (var depth = 0; level.Count > 1; depth++)
        {
            var next = new List<string>();
            for (var i = 0; i < level.Count; i += 2)
            {
                var key = $"sum-{depth}-{i / 2}";
                dsk[key] = (Add, level[i], level[i + 1]);
                next.Add(key);
            }
            level = next;
        }
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        dsk["root"] = level[0];            // an alias of a task key
        dsk["doubled"] = new object[] { "root", "root" }; // a literal list naming keys

        var onCluster = scheduler.Get(dsk, new[] { "root", "leaf-3", "doubled" });

        Assert.Equal(Scheduler.Threaded.Get(dsk, new[] { "root", "leaf-3", "doubled" }), onCluster);
        var total = Enumerable.Range(1, 64).Sum();
        Assert.Equal(new List<object?> { total, 4, new object?[] { total, total } }, onCluster);
        await Eventually.TrueAsync(
            () => !fixture.Pool.HasWhat().Values.SelectMany(k => k).Any(k => k.StartsWith("sum-") || k.StartsWith("leaf-")),
            () => $"graph keys still held: {string.Join(", ", fixture.Pool.HasWhat().Values.SelectMany(k => k).Where(k => k.StartsWith("sum-") || k.StartsWith("leaf-")).Take(5))}");
    }

    [Fact]
    public void A_failing_task_fails_Get_with_its_key_and_the_remote_error()
    {
        Func<int, int> fail = x => throw new ArgumentException($"bad {x}");
        var dsk = new Graph { ["a"] = 1, ["bad"] = (fail, "a"), ["after"] = (Inc, "bad") };
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var error = Assert.Throws<RemoteTaskException>(() => scheduler.Get(dsk, "after"));

        Assert.Equal("bad", error.Key);
        Assert.Equal(typeof(ArgumentException).FullName, error.RemoteTypeName);
        Assert.Contains("bad 1", error.RemoteMessage);
        Assert.Equal(2, scheduler.Get(new Graph { ["a"] = 1, ["b"] = (Inc, "a") }, "b"));
    }

    [Fact]
    public async Task A_failed_graph_leaves_nothing_on_the_workers_and_its_dependents_never_run()
    {
        Func<int, int> fail = x => throw new InvalidOperationException("no");
        var dsk = new Graph
        {
            ["failed-input"] = (Inc, 1), ["failed-side"] = (Inc, 2), ["failed-bad"] = (fail, "failed-input"),
            ["failed-after"] = (Add, "failed-bad", "failed-side")
        };
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var error = Assert.Throws<RemoteTaskException>(() => scheduler.Get(dsk, "failed-after"));

        Assert.Equal("failed-bad", error.Key);
        await Eventually.TrueAsync(
            () => !fixture.Pool.HasWhat().Values.SelectMany(k => k).Any(k => k.StartsWith("failed-")),
            () => $"keys of the failed graph still held: {string.Join(", ", fixture.Pool.HasWhat().Values.SelectMany(k => k).Where(k => k.StartsWith("failed-")))}");
    }

    [Fact]
    public void Malformed_graphs_are_refused_by_the_cluster_scheduler_before_anything_runs()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var cycle = Assert.Throws<GraphException>(() => scheduler.Get(new Graph { ["c1"] = (Inc, "c2"), ["c2"] = (Inc, "c1"), ["ok"] = (Inc, 1) }, "ok"));
        var missing = Assert.Throws<GraphException>(() => scheduler.Get(new Graph { ["m"] = (Add, "m-in", new KeyRef("absent")) }, "m"));
        var unknown = Assert.Throws<GraphException>(() => scheduler.Get(new Graph { ["u"] = (Inc, 1) }, new[] { "u", "nope" }));

        Assert.Contains("c1", cycle.Message);
        Assert.Contains("c2", cycle.Message);
        Assert.Contains("absent", missing.Message);
        Assert.Contains("nope", unknown.Message);
        Assert.DoesNotContain(fixture.Pool.HasWhat().Values.SelectMany(k => k), k => k.StartsWith("ok@") || k.StartsWith("u@"));
        Assert.Equal(2, scheduler.Get(new Graph { ["a"] = 1, ["b"] = (Inc, "a") }, "b"));
    }

    [Fact]
    public void A_graph_of_100000_tasks_is_accepted_and_runs()
    {
        Func<int, long> leaf = i => i;
        Func<long, long, long> add = (a, b) => a + b;
        var dsk = new Graph();
        var level = new List<string>();
        for (var i = 0; i < 50_000; i++)
        {
            dsk[$"big-{i}"] = (leaf, i);
            level.Add($"big-{i}");
        }
        for (var depth = 0; level.Count > 1; depth++)
        {
            var next = new List<string>();
            for (var i = 0; i < level.Count; i += 2)
            {
                var key = $"big-sum-{depth}-{i / 2}";
                dsk[key] = i + 1 < level.Count ? (add, level[i], level[i + 1]) : (add, level[i], 0L);
                next.Add(key);
            }
            level = next;
        }
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        Assert.True(dsk.Count >= 100_000, $"the graph has {dsk.Count} tasks");
        Assert.Equal(49_999L * 50_000 / 2, scheduler.Get(dsk, level[0]));
    }

    [Fact]
    public void Graph_values_may_be_remote_data_read_where_it_lives()
    {
        var remote = fixture.Pool.Map(x => x * 10, Enumerable.Range(0, 3));
        var dsk = new Graph { ["r"] = remote[2], ["b"] = (Inc, "r") };
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        Assert.Equal(21, scheduler.Get(dsk, "b"));
    }
}

[ProcessTier]
public sealed class GraphMemoryTests
{
    private static readonly Func<double[], double[]> Step = xs => xs.Select(x => x + 1).ToArray();

    [Fact]
    public async Task Intermediates_are_deleted_as_soon_as_the_tasks_that_read_them_have_run()
    {
        await using var cluster = await Distributed.Hosting.LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        Func<double[]> start = () => new double[1_000];
        var dsk = new Graph { ["k0"] = new TaskNode(start) };
        for (var i = 1; i <= 300; i++) dsk[$"k{i}"] = (Step, $"k{i - 1}");
        using var scheduler = ClusterScheduler.On(pool);

        var result = (double[])scheduler.Get(dsk, "k300")!;

        Assert.All(result, x => Assert.Equal(300, x));
        var peak = (await pool.TransferStatsAsync()).Values.Single().PeakKeyCount;
        Assert.True(peak <= 5, $"the worker held up to {peak} keys at once for a 301-step chain; with intermediates collected it needs 2 or 3");
    }
}

[ProcessTier]
public sealed class WideGraphMemoryTests
{
    private static readonly Func<int, double[]> Chunk = i => Enumerable.Repeat((double)i, 100).ToArray();
    private static readonly Func<double[], double> Total = xs => xs.Sum();

    [Fact]
    public async Task A_sum_over_10000_chunks_keeps_few_intermediates_on_each_worker()
    {
        await using var cluster = await Distributed.Hosting.LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var dsk = new Graph();
        var level = new List<string>();
        for (var i = 0; i < 10_000; i++)
        {
            dsk[$"chunk-{i}"] = (Chunk, i);
            dsk[$"total-{i}"] = (Total, $"chunk-{i}");
            level.Add($"total-{i}");
        }
        var root = PairwiseSum.AddTo(dsk, level);
        using var scheduler = ClusterScheduler.On(pool);

        var sum = (double)scheduler.Get(dsk, root)!;

        Assert.Equal(100.0 * Enumerable.Range(0, 10_000).Sum(i => (double)i), sum);
        var peaks = (await pool.TransferStatsAsync()).ToDictionary(s => s.Key, s => s.Value.PeakKeyCount);
        Assert.All(peaks, p => Assert.True(p.Value <= 200,
            $"{p.Key} held up to {p.Value} keys at once while summing 10,000 chunks (a 30,000-task graph); expected a small bound"));
    }
}

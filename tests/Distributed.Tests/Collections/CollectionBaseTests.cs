using Distributed.Dask;
using Distributed.Collections;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Collections;

/// <summary>What every collection relies on: layered graphs, scalars, Compute and Persist, locally.</summary>
public sealed class CollectionBaseTests
{
    private static Scalar<int> Literal(int value)
    {
        var layer = LayerNames.New("literal");
        return new Scalar<int>(LayeredGraph.Empty.With(layer, new Graph { [layer] = value }), layer);
    }

    [Fact]
    public void A_scalar_computes_on_the_default_and_on_the_synchronous_scheduler()
    {
        var squared = Literal(7).Select(x => x * x).Select(x => x + 1);

        Assert.Equal(50, squared.Compute());
        Assert.Equal(50, squared.Compute(Scheduler.Synchronous));
        Assert.Equal(3, squared.Graph.Count);
    }

    [Fact]
    public void Layers_are_shared_not_copied_and_merge_by_name()
    {
        var a = Literal(1);
        var b = a.Select(x => x + 1);
        var c = a.Select(x => x + 2);

        var merged = LayeredGraph.Merge(b.Graph, c.Graph);

        Assert.Same(a.Graph.Layers[a.Key], b.Graph.Layers[a.Key]);
        Assert.Equal(3, merged.Layers.Count);
        Assert.Equal(3, merged.ToGraph().Count);
    }

    [Fact]
    public void A_collection_refuses_keys_missing_from_its_graph()
    {
        var error = Assert.Throws<ArgumentException>(() => new Scalar<int>(LayeredGraph.Empty, "nowhere"));
        Assert.Contains("'nowhere'", error.Message);
    }

    [Fact]
    public void Persist_on_a_local_scheduler_keeps_the_value_and_drops_the_graph_behind_it()
    {
        var calls = 0;
        var counted = Literal(20).Select(x => { Interlocked.Increment(ref calls); return x + 1; });

        var persisted = counted.Persist();

        Assert.Equal(1, calls);
        Assert.Single(persisted.Graph.ToGraph());
        Assert.Equal(42, persisted.Select(x => x * 2).Compute());
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Quoted_literals_are_neither_walked_nor_read_as_keys()
    {
        Func<List<string>, int> count = items => items.Count;
        Func<double[], double> sum = items => items.Sum();
        var dsk = new Graph
        {
            ["a"] = 1,
            ["words"] = (count, new Quoted(new List<string> { "a", "b", "a" })),
            ["sum"] = (sum, new[] { 1.5, 2.5 }), // an array of numbers is a literal without quoting
        };

        Assert.Equal(new List<object?> { 3, 4.0 }, Scheduler.Threaded.Get(dsk, new[] { "words", "sum" }));
    }
}

/// <summary>Persist on a real cluster: the values stay on the workers as RemoteData.</summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class ClusterPersistTests(LocalClusterFixture fixture)
{
    [Fact]
    public async Task Persist_keeps_the_requested_keys_on_the_workers_and_frees_the_rest()
    {
        Func<int, int> inc = x => x + 1;
        Func<int, int, int> add = (x, y) => x + y;
        var dsk = new Graph { ["p-a"] = (inc, 1), ["p-b"] = (inc, "p-a"), ["p-c"] = (add, "p-a", "p-b"), ["p-lit"] = 5 };
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var kept = scheduler.Persist(dsk, ["p-c", "p-lit"]);

        var remote = Assert.IsType<RemoteData<object>>(kept[0]);
        Assert.Equal(5, kept[1]);
        Assert.Equal(5, remote.Get());
        await Eventually.TrueAsync(
            () => fixture.Pool.HasWhat().Values.SelectMany(k => k).Count(k => k.StartsWith("p-")) == 1,
            () => $"held: {string.Join(", ", fixture.Pool.HasWhat().Values.SelectMany(k => k).Where(k => k.StartsWith("p-")))}");

        // The persisted value is an input of the next graph, on the cluster and locally.
        var next = new Graph { ["base"] = remote, ["twice"] = (add, "base", "base") };
        Assert.Equal(10, scheduler.Get(next, "twice"));
        Assert.Equal(10, Scheduler.Threaded.Get(next, "twice"));
        fixture.Pool.Release([remote]);
        await Eventually.TrueAsync(() => !fixture.Pool.HasWhat().Values.SelectMany(k => k).Any(k => k.StartsWith("p-")), () => "persisted key not released");
    }

    [Fact]
    public async Task Persist_returns_futures_at_once_and_what_is_computed_from_them_waits_on_the_cluster()
    {
        Func<int, int> slowly = x =>
        {
            Thread.Sleep(1500);
            return x * 10;
        };
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        var bag = Bag.FromSequence(Enumerable.Range(1, 4).ToList(), partitions: 2).Select(slowly);

        var persisted = bag.Persist(scheduler);

        var futures = persisted.Graph.ToGraph().Select(kv => Assert.IsType<RemoteData<object>>(Assert.IsType<Quoted>(kv.Value).Value)).ToList();
        Assert.Equal(2, futures.Count);
        Assert.Contains(futures, f => f.Status == FutureStatus.Pending); // each partition sleeps 3 s: none can have ended yet
        Assert.Equal(100, await persisted.Aggregate(0, (a, x) => a + x, (a, b) => a + b).ComputeAsync(scheduler));
        Assert.All(futures, f => Assert.Equal(FutureStatus.Finished, f.Status));
        fixture.Pool.Release(futures);
    }

    [Fact]
    public async Task ComputeAsync_computes_on_the_cluster_and_cancelling_it_throws()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        Func<int, int> slowly = x =>
        {
            Thread.Sleep(3000);
            return x;
        };

        Assert.Equal(Enumerable.Range(0, 10).Sum(), await Bag.FromSequence(Enumerable.Range(0, 10).ToList(), partitions: 3).Aggregate(0, (a, x) => a + x, (a, b) => a + b).ComputeAsync(scheduler));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Bag.FromSequence(Enumerable.Range(0, 4).ToList(), partitions: 2).Select(slowly).Aggregate(0, (a, x) => a + x, (a, b) => a + b).ComputeAsync(scheduler, cancellation.Token));
    }

    [Fact]
    public async Task ComputeAsync_runs_on_a_local_scheduler_too()
    {
        Assert.Equal(45, await Bag.FromSequence(Enumerable.Range(0, 10).ToList(), partitions: 3).Aggregate(0, (a, x) => a + x, (a, b) => a + b).ComputeAsync());
    }

    [Fact]
    public void A_persisted_scalar_computes_from_the_cluster()
    {
        var layer = LayerNames.New("seven");
        Func<int> seven = () => 7;
        var scalar = new Scalar<int>(LayeredGraph.Empty.With(layer, new Graph { [layer] = new TaskNode(seven) }), layer);
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var persisted = scalar.Persist(scheduler);

        Assert.IsType<RemoteData<object>>(Assert.IsType<Quoted>(persisted.Graph.ToGraph()[persisted.Key]).Value);
        Assert.Equal(49, persisted.Select(x => x * x).Compute(scheduler));
        fixture.Pool.Release([(IRemoteData)((Quoted)persisted.Graph.ToGraph()[persisted.Key]!).Value!]);
    }
}

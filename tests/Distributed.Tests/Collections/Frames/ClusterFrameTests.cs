using Distributed.Collections;
using Distributed.Dask;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Collections.Frames;

/// <summary>Dataframe graphs on the real multi-process cluster give what the local scheduler and LINQ give.</summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class ClusterFrameTests(LocalClusterFixture fixture) : IDisposable
{
    private readonly FrameTestData _data = new(rows: 400, seed: 11);

    public void Dispose() => _data.Dispose();

    private DistributedFrame Read() => DataFrames.ReadCsv(_data.WriteCsv(), blockSize: 2_000);

    [Fact]
    public void ReadCsv_Where_GroupBy_Agg_matches_the_local_scheduler_and_LINQ()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        var result = Read().Where<double>("amount", a => a > 0).GroupBy("region").Agg(("amount", Agg.Mean), ("amount", Agg.Std), ("id", Agg.Count));

        var onCluster = result.Compute(scheduler);

        var expected = _data.Rows.Where(r => r.Amount > 0 && r.Region is not null).GroupBy(r => r.Region!).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new object?[] { g.Key, g.Average(r => r.Amount!.Value), FrameAssert.Std(g.Select(r => r.Amount!.Value)), (long)g.Count() }).ToList();
        FrameAssert.Equal(expected, onCluster);
        FrameAssert.Equal(FrameAssert.RowsOf(result.Compute(Scheduler.Threaded)), onCluster);
    }

    [Fact]
    public void A_frame_from_memory_travels_to_the_workers_and_aggregates_there()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        var frame = DataFrames.FromFrame(_data.Frame(), partitions: 3);

        var result = frame.GroupBy("paid").Agg(("amount", Agg.Max), ("region", Agg.Count)).Compute(scheduler);

        var expected = _data.Rows.GroupBy(r => r.Paid).OrderBy(g => g.Key)
            .Select(g => new object?[] { g.Key, g.Max(r => r.Amount), (long)g.Count(r => r.Region is not null) }).ToList();
        FrameAssert.Equal(expected, result);
        FrameAssert.Equal(FrameAssert.RowsOf(_data.Frame()), frame.Compute(scheduler));
    }

    [Fact]
    public void WithColumn_Head_Count_and_Describe_run_on_the_cluster()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        var offset = 0.5; // a closure: the user's lambda ships with its captured value
        var frame = Read().WithColumn("net", "amount", "paid", (double amount, bool paid) => paid ? amount + offset : -amount);

        var computed = frame.Select("id", "net").Compute(scheduler);
        var head = frame.Head(3, scheduler);
        var count = frame.Where<string>("region", r => r == "north").Count().Compute(scheduler);
        var described = frame.Select("net").Describe().Compute(scheduler);

        FrameAssert.Equal(_data.Rows.Select(r => new object?[] { r.Id, r.Amount is { } a ? (r.Paid ? a + offset : -a) : null }).ToList(), computed);
        Assert.Equal([0L, 1L, 2L], FrameAssert.RowsOf(head).Select(row => (long)row[0]!));
        Assert.Equal(_data.Rows.LongCount(r => r.Region == "north"), count);
        var nets = _data.Rows.Where(r => r.Amount is not null).Select(r => r.Paid ? r.Amount!.Value + offset : -r.Amount!.Value).ToList();
        FrameAssert.Equal([["count", (double)nets.Count], ["mean", nets.Average()], ["std", FrameAssert.Std(nets)], ["min", nets.Min()], ["max", nets.Max()]], described);
    }

    [Fact]
    public async Task Persist_keeps_the_partitions_on_the_workers_and_later_steps_read_them_there()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        var path = _data.WriteCsv("persisted.csv");
        var source = DataFrames.ReadCsv(path, blockSize: 2_000).Where<bool>("paid", p => p);

        var persisted = source.Persist(scheduler);
        var remotes = persisted.Graph.ToGraph().Select(kv => kv.Value).OfType<Quoted>().Select(q => q.Value).OfType<RemoteData<object>>().ToList();
        await Futures.WaitAsync(remotes); // Persist returns futures at once: the partitions are read from the file until they exist
        File.Delete(path); // later steps can only read the persisted partitions

        Assert.Equal(source.Partitions, remotes.Count);
        var sums = persisted.GroupBy("region").Agg(("amount", Agg.Sum)).Compute(scheduler);
        var expected = _data.Rows.Where(r => r.Paid && r.Region is not null).GroupBy(r => r.Region!).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new object?[] { g.Key, g.Sum(r => r.Amount ?? 0) }).ToList();
        FrameAssert.Equal(expected, sums);
        Assert.Equal(_data.Rows.LongCount(r => r.Paid), persisted.Count().Compute(scheduler));

        fixture.Pool.Release(remotes);
        await Eventually.TrueAsync(
            () => !fixture.Pool.HasWhat().Values.SelectMany(k => k).Any(k => remotes.Any(r => r.Key == k)),
            () => "the persisted partitions are still held after Release");
    }
}

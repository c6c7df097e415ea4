using Distributed.Collections;
using Distributed.Dask;
using Distributed.Tests.Cluster;
using static Distributed.Tests.Collections.DArrays.Reference;

namespace Distributed.Tests.Collections.DArrays;

/// <summary>DArray on a real cluster (a center and workers as processes), checked against plain arrays.</summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class DArrayClusterTests(LocalClusterFixture fixture)
{
    [Fact]
    public void The_seed_example_sums_arange_on_the_cluster()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        Assert.Equal(45, DArray.Arange(10, chunks: 5).Sum().Compute(scheduler));
    }

    [Fact]
    public void Fused_elementwise_operations_and_reductions_run_on_the_workers()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        var shift = 0.25; // a closure the workers have never seen
        var x = DArray.Arange(1000, chunks: 60); // 17 chunks: a two-level tree
        var y = (x * 2 + 1).Map(v => v - shift);
        var expected = Range(1000, i => i * 2 + 1 - shift);

        Close(expected.Sum(), y.Sum().Compute(scheduler));
        Assert.Equal(expected.Max(), y.Max().Compute(scheduler));
        Close(Variance(expected), y.Var().Compute(scheduler));
        Close(Math.Sqrt(Variance(expected)), y.Std().Compute(scheduler));
        Assert.Equal(expected, y.ComputeVector(scheduler));
        Assert.Equal(DArray.Random(3, 500, chunks: 70).ComputeVector(), DArray.Random(3, 500, chunks: 70).ComputeVector(scheduler));
        Assert.Equal(Range(20, i => 19 - i), DArray.Arange(20, chunks: 20).MapBlocks(b => b.Reverse().ToArray()).ComputeVector(scheduler));
    }

    [Fact]
    public void Axis_reductions_slicing_Dot_and_Rechunk_match_plain_arrays_on_the_cluster()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        var a = Matrix(12, 8, (r, c) => r * 0.5 - c);
        var b = Matrix(8, 6, (r, c) => (r + c) % 3 - 1.0);
        var da = DArray.FromArray(a, chunks: (5, 3));
        var db = DArray.FromArray(b, chunks: (4, 4));

        Close(Enumerable.Range(0, 8).Select(c => Column(a, c).Sum()).ToArray(), da.Sum(0).ComputeVector(scheduler));
        Close(Enumerable.Range(0, 12).Select(r => Row(a, r).Average()).ToArray(), da.Mean(1).ComputeVector(scheduler));
        Assert.Equal(Matrix(6, 3, (r, c) => a[r + 4, c + 1]), da[4..10, 1..4].ComputeMatrix(scheduler));
        Assert.Equal(Matrix(8, 12, (r, c) => a[c, r]), da.T.ComputeMatrix(scheduler));
        Close(Product(a, b), da.Dot(db).ComputeMatrix(scheduler));
        Assert.Equal(a, da.Rechunk((4, 8)).ComputeMatrix(scheduler));
    }

    [Fact]
    public async Task Persist_keeps_the_chunks_on_the_workers_for_the_next_computation()
    {
        using var scheduler = ClusterScheduler.On(fixture.Pool);
        var x = DArray.Arange(40, chunks: 10) * 3;

        var persisted = x.Persist(scheduler);

        var kept = persisted.Graph.ToGraph().Select(kv => Assert.IsType<Quoted>(kv.Value).Value).OfType<IRemoteData>().ToList();
        Assert.Equal(4, kept.Count);
        Close(Range(40, i => 3 * i + 1).Sum(), (persisted + 1).Sum().Compute(scheduler));
        Assert.Equal(Range(40, i => 3 * i), persisted.ComputeVector(scheduler));
        fixture.Pool.Release(kept);
        var keys = kept.Select(k => k.Key).ToHashSet();
        await Eventually.TrueAsync(
            () => !fixture.Pool.HasWhat().Values.SelectMany(k => k).Any(keys.Contains),
            () => $"persisted chunks still held: {string.Join(", ", fixture.Pool.HasWhat().Values.SelectMany(k => k).Where(keys.Contains))}");
    }
}

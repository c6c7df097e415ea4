using Distributed.Dask;

namespace Distributed.Tests.Graphs;

/// <summary>
/// The center's window of graph tasks per worker grows past its fixed 16 per core for tasks that
/// free an input, while tasks that add a value (a graph's leaves) wait once the worker holds enough
/// unread intermediates.
/// </summary>
[ProcessTier]
public sealed class GraphWindowTests
{
    private static readonly Func<int, double[]> Leaf = i => Enumerable.Repeat((double)i, 100).ToArray();
    private static readonly Func<double[], double[], double> SumPair = (a, b) => a.Sum() + b.Sum();

    /// <summary>The fixed window per core of the center (one thread per worker here).</summary>
    private const int FixedWindow = 16;

    [Fact]
    public async Task A_wide_sum_gets_more_than_the_fixed_window_in_flight_yet_holds_few_leaves_at_once()
    {
        await using var cluster = await Distributed.Hosting.LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        const int Leaves = 20_000;
        var dsk = new Graph();
        for (var i = 0; i < Leaves; i++) dsk[$"leaf-{i}"] = (Leaf, i);
        // Every leaf feeds one pair sum, so nearly half of the tasks are leaves, all ready at once.
        var level = new List<string>();
        for (var i = 0; i < Leaves; i += 2)
        {
            dsk[$"pair-{i / 2}"] = (SumPair, $"leaf-{i}", $"leaf-{i + 1}");
            level.Add($"pair-{i / 2}");
        }
        var root = PairwiseSum.AddTo(dsk, level);
        using var scheduler = ClusterScheduler.On(pool);

        var sum = (double)scheduler.Get(dsk, root)!;

        Assert.Equal(100.0 * Enumerable.Range(0, Leaves).Sum(i => (double)i), sum);
        var stats = await pool.TransferStatsAsync();
        // An unbounded window sends thousands of leaves before the sums that read them.
        Assert.All(stats, s => Assert.True(s.Value.PeakKeyCount <= 200,
            $"{s.Key} held up to {s.Value.PeakKeyCount} keys at once while summing {Leaves} leaves; expected a small bound"));
        // The fixed window never lets a worker have more than 16 tasks at once.
        var peakInFlight = stats.Values.Max(s => s.PeakTasksInFlight);
        Assert.True(peakInFlight > FixedWindow,
            $"no worker had more than {peakInFlight} tasks at once: the window did not grow past the fixed {FixedWindow}");
    }
}

using System.Globalization;
using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A Map over a million items on a real cluster: accepted, run, and the center's memory stays within
/// what the benchmark reports per task (about 1.1 KB per task, peak, while the results are held).
/// </summary>
[Collection(WorkerDeathTests.Name)] // a minute of full load: alone, so that it starves no other cluster test
[ProcessTier]
public sealed class LargeMapTests
{
    private const int Items = 1_000_000;

    /// <summary>
    /// Bytes of center memory allowed per task. The benchmark reports about 1.1 KB (Release build);
    /// here the center is a Debug build read right after the Map, with garbage not yet collected
    /// (1.65 KB measured on a loaded machine), so the bound leaves room for that.
    /// </summary>
    private const long CenterBytesPerTask = 2_048;

    [Fact]
    public async Task A_map_over_a_million_items_runs_and_the_center_grows_by_a_bounded_amount_per_task()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        Assert.Equal(1, pool.Apply(x => x + 1, 0).Get()); // warm: the code is on the workers
        var before = ResidentBytes(cluster.Center.Id);

        var results = await pool.MapAsync(x => x + 1, Enumerable.Range(0, Items)).WaitAsync(TimeSpan.FromMinutes(10));

        var growth = ResidentBytes(cluster.Center.Id) - before;
        Assert.Equal(Items, results.Count);
        var sample = Enumerable.Range(0, 1_000).Select(i => i * (Items / 1_000)).Append(Items - 1).ToList();
        Assert.Equal(sample.Select(i => i + 1), await pool.GatherAsync(sample.Select(i => results[i])));
        Assert.True(growth < Items * CenterBytesPerTask, $"the center grew by {growth / 1e6:0} MB for {Items} tasks ({growth / Items} bytes per task)");
    }

    private static long ResidentBytes(int processId)
    {
        var line = File.ReadLines($"/proc/{processId}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }
}

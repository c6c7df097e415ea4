using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A value over 2 GiB (no .NET array of bytes holds it) on a real cluster: made by a task, moved from
/// worker to worker in chunks, spilled, read back and served from its spill file, summed right.
/// </summary>
[Collection(WorkerDeathTests.Name)] // several GB per process at its peak: alone, so that it starves no other cluster test
[ProcessTier]
public sealed class LargeValueTests
{
    /// <summary>2.4 GB of doubles: over 2 GiB encoded, so three chunks of at most 1 GiB.</summary>
    private const int Elements = 300_000_000;

    /// <summary>The sum of the doubles <c>i % 1000</c>: whole numbers below 2^53 all the way, so exact in any order.</summary>
    private const double ExpectedSum = Elements / 1000 * (999.0 * 1000 / 2);

    private static double[] Make()
    {
        var values = new double[Elements];
        for (var i = 0; i < values.Length; i++) values[i] = i % 1000;
        return values;
    }

    private static double Sum(double[] values)
    {
        var sum = 0.0;
        foreach (var value in values) sum += value;
        return sum;
    }

    [Fact]
    public async Task A_value_over_2_GiB_is_made_moved_between_workers_spilled_served_from_its_file_and_summed()
    {
        // 1 GB of memory each: the value is larger, so each worker puts it straight into a spill file.
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1, workerArguments: ["--memory-limit", "1GB"]);
        await using var pool = await cluster.ConnectAsync();
        var timeout = TimeSpan.FromMinutes(10);

        var big = await pool.ApplyAsync(() => Make()).WaitAsync(timeout);
        var maker = Assert.Single(pool.WhoHas(big));
        var other = pool.Workers().Single(w => w.Name != maker).Name;

        // Worker to worker: the maker streams it from its spill file, the other receives it in chunks.
        await pool.ReplicateAsync([big], other).WaitAsync(timeout);
        Assert.Equal(new[] { maker, other }.Order(), pool.WhoHas(big).Order());
        var stats = await pool.TransferStatsAsync();
        var encodedBytes = 1 + 8L * Elements;
        Assert.True(stats[maker].SentToWorkers >= encodedBytes, $"{maker} sent {stats[maker].SentToWorkers} bytes to workers");
        Assert.True(stats[other].ReceivedFromWorkers >= encodedBytes, $"{other} received {stats[other].ReceivedFromWorkers} bytes from workers");
        foreach (var name in new[] { maker, other })
        {
            Assert.True(stats[name].SpilledBytes >= encodedBytes, $"{name} holds {stats[name].SpilledBytes} bytes on disk, not the value");
            Assert.True(stats[name].InMemoryBytes < encodedBytes, $"{name} holds {stats[name].InMemoryBytes} bytes in memory");
        }
        var readsBefore = stats.Values.Sum(s => s.ReadsFromDisk);

        // A task reads it back from a spill file, in chunks, and decodes it from them in its executor.
        var sum = await pool.ApplyAsync((double[] values) => Sum(values), big).WaitAsync(timeout);
        Assert.Equal(ExpectedSum, (await pool.GatherAsync([sum]).WaitAsync(timeout))[0]);

        // The client's Get is served from a spill file by streaming, and decoded from its chunks here.
        var fetched = (await pool.GatherAsync([big]).WaitAsync(timeout))[0];
        Assert.Equal(Elements, fetched.Length);
        Assert.Equal(ExpectedSum, Sum(fetched));
        Assert.Equal(999.0, fetched[Elements - 1]);
        var after = await pool.TransferStatsAsync();
        Assert.True(after.Values.Sum(s => s.ReadsFromDisk) >= readsBefore + 2, "The task's input and the client's fetch did not both come from a spill file.");
        Assert.True(after.Values.Sum(s => s.SentToClients) >= encodedBytes, "The client's fetch moved less than the value.");
    }
}

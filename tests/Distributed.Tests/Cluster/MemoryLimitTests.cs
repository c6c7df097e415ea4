using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>Workers started with a memory limit far below the data they compute spill to disk and lose nothing.</summary>
[ProcessTier]
public sealed class MemoryLimitTests
{
    private const long Limit = 32_000_000;
    private const int ValueSize = 4_000_000;
    private const int ValueCount = 40; // 160 MB over two workers that keep 32 MB each in memory

    /// <summary>A value whose every byte depends on its index, so that a mix-up or a damaged read shows.</summary>
    private static byte[] Block(int index)
    {
        var bytes = new byte[ValueSize];
        for (var j = 0; j < bytes.Length; j++) bytes[j] = (byte)((j ^ (j >> 9)) + index * 37);
        return bytes;
    }

    private static long Checksum(byte[] bytes)
    {
        long sum = 0;
        for (var j = 0; j < bytes.Length; j++) sum = sum * 31 + bytes[j];
        return sum;
    }

    [Fact]
    public async Task Workers_past_their_memory_limit_spill_to_disk_and_give_every_value_back()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1, workerArguments: ["--memory-limit", "32MB"]);
        await using var pool = await cluster.ConnectAsync();
        foreach (var worker in cluster.Workers) // printed right after the line LocalCluster waits for
            await worker.WaitForLineAsync(l => l == "Memory limit:               32 MB", TimeSpan.FromSeconds(10));

        var blocks = pool.Map(i => Block(i), Enumerable.Range(0, ValueCount));

        var stored = await pool.TransferStatsAsync();
        var described = string.Join("; ", stored.Select(s => $"{s.Key}: {s.Value.KeyCount} keys, {s.Value.InMemoryBytes} bytes in memory, {s.Value.SpilledBytes} on disk ({s.Value.SpilledCount} values)"));
        foreach (var (worker, stats) in stored)
        {
            Assert.Equal(Limit, stats.MemoryLimit);
            // One value of slack: a stats read may fall between a put and the spill it causes.
            Assert.True(stats.InMemoryBytes <= Limit + ValueSize + 64, $"{worker} holds {stats.InMemoryBytes} bytes in memory, over its limit of {Limit}. {described}");
            Assert.Equal(stats.StoredBytes, stats.InMemoryBytes + stats.SpilledBytes);
        }
        Assert.Equal(ValueCount, stored.Values.Sum(s => s.KeyCount));
        // Whatever the split between the workers, at least all but 2 × 32 MB must be on disk.
        Assert.True(stored.Values.Sum(s => s.SpilledBytes) >= (long)ValueCount * ValueSize - 2 * Limit, $"Too little was spilled. {described}");

        var values = pool.Gather(blocks);
        Assert.Equal(ValueCount, values.Count);
        for (var i = 0; i < ValueCount; i++)
            Assert.True(values[i].AsSpan().SequenceEqual(Block(i)), $"Value {i} came back with other bytes.");

        // A Map over the spilled values reads its inputs back from disk, on the workers that hold them.
        var readsBefore = stored.Values.Sum(s => s.ReadsFromDisk);
        var checksums = pool.Map(b => Checksum(b), blocks);
        Assert.Equal(Enumerable.Range(0, ValueCount).Select(i => Checksum(Block(i))), pool.Gather(checksums));
        var afterMap = await pool.TransferStatsAsync();
        Assert.True(afterMap.Values.Sum(s => s.ReadsFromDisk) > readsBefore, "The Map over spilled values read nothing from disk.");

        // Released values leave the disk too (the checksums as well: reading the blocks back may have spilled some).
        pool.Release(blocks);
        pool.Release(checksums);
        await Eventually.TrueAsync(
            () => pool.TransferStatsAsync().GetAwaiter().GetResult().Values.All(s => s.SpilledCount == 0 && s.SpilledBytes == 0),
            () => "After Release the workers still hold spilled values: " + string.Join("; ",
                pool.TransferStatsAsync().GetAwaiter().GetResult().Select(s => $"{s.Key}: {s.Value.SpilledCount} values, {s.Value.SpilledBytes} bytes")));
    }
}

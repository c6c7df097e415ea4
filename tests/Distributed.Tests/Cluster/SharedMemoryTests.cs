using System.Diagnostics;
using Distributed.Data;
using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A worker and its executors share large values instead of copying them over the executor socket: a
/// task reads a 200 MB input from the worker's shared segment in place, and a 200 MB result is written
/// into a segment the worker lends and stored as it is. The worker's counters say which way the bytes went.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class SharedMemoryTests
{
    private const int Elements = 25_000_000; // 200 MB of doubles
    private const long Bytes = Elements * 8L;
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(180);

    [SkippableFact]
    public async Task A_task_reads_a_200_MB_input_in_place_and_its_200_MB_result_is_stored_without_a_copy()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared memory needs Linux");
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();

        var ramp = await pool.ApplyAsync(() => Ramp(1.0)).WaitAsync(Slow);
        var doubled = await pool.ApplyAsync((double[] xs) => xs.Select(x => 2 * x).ToArray(), ramp).WaitAsync(Slow);
        var sums = await pool.ApplyAsync((double[] xs) => (xs.Length, xs.Sum(), xs[12_345_678]), doubled).WaitAsync(Slow);

        Assert.Equal((Elements, 2 * RampSum(1.0), 2 * (12_345_678 % 1000 + 1.0 + 1.0)), (await pool.GatherAsync([sums])).Single());
        var stats = (await pool.TransferStatsAsync()).Values.Single();
        // Both inputs went by reference, both results came back in lent segments: nothing large was copied.
        Assert.True(stats.InputBytesShared >= 2 * Bytes, $"{stats.InputBytesShared} input bytes shared, expected both 200 MB inputs");
        Assert.True(stats.InputBytesCopied < 1 << 20, $"{stats.InputBytesCopied} input bytes copied over the socket");
        Assert.True(stats.ResultBytesShared >= 2 * Bytes, $"{stats.ResultBytesShared} result bytes stored from lent segments, expected both 200 MB results");
        Assert.True(stats.ResultBytesCopied < 1 << 20, $"{stats.ResultBytesCopied} result bytes copied over the socket");
        Assert.Equal(2, stats.SharedSegmentsInUse); // the two stored values; every lease and loan ended
    }

    [SkippableFact]
    public async Task A_task_reading_a_value_that_is_deleted_and_overwritten_meanwhile_still_sees_the_old_bytes()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared memory needs Linux");
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var signals = Directory.CreateTempSubdirectory("distributed-shm-test-");
        try
        {
            var started = Path.Combine(signals.FullName, "started");
            var go = Path.Combine(signals.FullName, "go");
            var ones = await pool.ApplyAsync(() => Ramp(0.0)).WaitAsync(Slow);
            var holder = pool.WhoHas(ones).Single();
            var other = pool.Workers().Select(w => w.Name).Single(n => n != holder);
            // Runs where the value is (its input), on the holder's only executor thread: the reader queued behind it.
            var blocker = await pool.ApplyAsync((double[] xs) => new double[] { -1 }, ones).WaitAsync(Slow);
            Assert.Equal(holder, pool.WhoHas(blocker).Single());
            var reads = pool.MapAsync((double[] xs) =>
            {
                if (xs.Length == 1)
                {
                    File.WriteAllText(started, "");
                    while (!File.Exists(go)) Thread.Sleep(20);
                    return -1.0;
                }
                return xs.Sum();
            }, [blocker, ones]);
            await Eventually.TrueAsync(() => File.Exists(started), () => "the blocking task did not start", Slow);

            // The same size class, other bytes, made on the other worker (the holder is busy): copied to the
            // holder below, it would land in the first value's segment if that were given back while the reader holds it.
            var twos = await pool.ApplyAsync(() => Ramp(5000.0)).WaitAsync(Slow);
            Assert.Equal(other, pool.WhoHas(twos).Single());
            pool.Release([ones]); // deleted while the reader's batch holds it
            await Eventually.TrueAsync(() => !pool.HasWhat().GetValueOrDefault(holder, []).Contains(ones.Key), () => $"{ones.Key} is still on {holder}", Slow);
            await pool.ReplicateAsync([twos], holder); // and a value of its size stored over there
            File.WriteAllText(go, "");

            var results = await pool.GatherAsync(await reads.WaitAsync(Slow));
            Assert.Equal([-1.0, RampSum(0.0)], results);
            var stats = (await pool.TransferStatsAsync())[holder];
            Assert.True(stats.InputBytesShared >= 2 * Bytes, $"{stats.InputBytesShared} input bytes shared on {holder}, expected the 200 MB value twice");
            Assert.True(stats.ReceivedFromWorkers >= Bytes, $"{holder} received {stats.ReceivedFromWorkers} bytes, expected the 200 MB copy");
        }
        finally
        {
            signals.Delete(recursive: true);
        }
    }

    [SkippableFact]
    public async Task An_executor_killed_while_it_reads_a_shared_value_leaves_no_segment_held()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared memory needs Linux");
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var signals = Directory.CreateTempSubdirectory("distributed-shm-test-");
        try
        {
            var pidFile = Path.Combine(signals.FullName, "pid");
            var value = await pool.ApplyAsync(() => Ramp(0.0)).WaitAsync(Slow);
            Assert.Equal(1, Stats(pool).SharedSegmentsInUse);

            var stuck = pool.ApplyAsync((double[] xs) =>
            {
                File.WriteAllText(pidFile, Environment.ProcessId.ToString());
                Thread.Sleep(Timeout.Infinite);
                return xs.Length;
            }, value);
            await Eventually.TrueAsync(() => File.Exists(pidFile) && new FileInfo(pidFile).Length > 0, () => "the task did not start", Slow);
            Assert.Equal(1, Stats(pool).SharedSegmentsInUse); // the value, leased by the task's batch
            using (var executor = Process.GetProcessById(int.Parse(File.ReadAllText(pidFile))))
                executor.Kill();

            await Assert.ThrowsAnyAsync<Exception>(async () => await pool.GatherAsync([await stuck.WaitAsync(Slow)]));
            // The lease ended with the task: deleting the value gives its segment back to the pool.
            pool.Release([value]);
            await Eventually.TrueAsync(() => Stats(pool) is { KeyCount: 0, SharedSegmentsInUse: 0 },
                () => $"after the kill and the delete: {Stats(pool).KeyCount} keys, {Stats(pool).SharedSegmentsInUse} segments held", Slow);
            // And the next value reuses it, read by a fresh executor.
            var again = await pool.ApplyAsync((int x) => Ramp(x).Sum(), 3).WaitAsync(Slow);
            Assert.Equal([RampSum(3.0)], await pool.GatherAsync([again]));
        }
        finally
        {
            signals.Delete(recursive: true);
        }
    }

    [SkippableFact]
    public async Task An_executor_maps_a_segment_once_for_batch_after_batch_and_unmaps_it_when_its_worker_lets_it_go()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared memory needs Linux");
        // 200 MB of memory: the worker's pool keeps at most 50 MB of idle segments, one of the 24 MB values' class.
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1, workerArguments: ["--memory-limit", "200MB"]);
        await using var pool = await cluster.ConnectAsync();
        var values = new List<RemoteData<double[]>>();
        foreach (var start in new[] { 0.0, 1.0, 2.0 })
            values.Add(await pool.ApplyAsync(() => Ramp(start, SmallElements)).WaitAsync(Slow)); // each written into a segment the worker lent
        var executor = (await pool.GatherAsync([await pool.ApplyAsync((double[] xs) => Environment.ProcessId, values[0]).WaitAsync(Slow)])).Single();
        var mapped = SegmentMappings(executor);
        Assert.Equal(3, mapped.Count); // the three values' segments, kept mapped after their batches

        // Read again, each in a batch of its own: the same mappings (address and memory file), none made anew.
        var lengths = new List<RemoteData<int>>();
        foreach (var value in values) lengths.Add(await pool.ApplyAsync((double[] xs) => xs.Length, value).WaitAsync(Slow));
        Assert.Equal(Enumerable.Repeat(SmallElements, 3), await pool.GatherAsync(lengths));
        var after = SegmentMappings(executor);
        Assert.True(mapped.SetEquals(after), $"mapped before: {string.Join(", ", mapped)}; after: {string.Join(", ", after)}");

        // Deleted: the worker's pool keeps one segment idle (still mapped in the executor, for the next value) and
        // unmaps the others, which the executor then unmaps too, freeing their memory.
        pool.Release([.. values]);
        await Eventually.TrueAsync(() => SegmentMappings(executor).Count == 1,
            () => $"the executor still maps {SegmentMappings(executor).Count} segments after the worker let two of three go", Slow);
    }

    [SkippableFact]
    public async Task A_value_replicated_to_a_worker_on_the_same_machine_goes_through_shared_memory_and_with_sharing_off_over_the_channel()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared memory needs Linux");
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var value = await pool.ApplyAsync(() => Ramp(7.0, SmallElements)).WaitAsync(Slow);
        var holder = pool.WhoHas(value).Single();
        var sharing = pool.Workers().Select(w => w.Name).Single(n => n != holder);
        const long Size = SmallElements * 8L;

        await pool.ReplicateAsync([value], sharing).WaitAsync(Slow);
        var stats = (await pool.TransferStatsAsync())[sharing];
        Assert.True(stats.ReceivedThroughSharedMemory >= Size, $"{sharing} copied {stats.ReceivedThroughSharedMemory} bytes from shared memory, expected the {Size} of the value");
        Assert.True((await pool.TransferStatsAsync())[holder].SentThroughSharedMemory >= Size);

        // A worker with sharing off asks for the bytes, and they come over the (TLS) channel.
        var settings = Path.Combine(Path.GetTempPath(), $"distributed-settings-{Guid.NewGuid():N}.conf");
        File.WriteAllText(settings, "distributed.worker.same-host-sharing = off");
        try { await cluster.AddWorkerAsync(CancellationToken.None, "--config", settings).WaitAsync(Slow); }
        finally { File.Delete(settings); }
        var apart = pool.Workers().Select(w => w.Name).Single(n => n != holder && n != sharing);
        await pool.ReplicateAsync([value], apart).WaitAsync(Slow);
        stats = (await pool.TransferStatsAsync())[apart];
        Assert.Equal(0, stats.ReceivedThroughSharedMemory);
        Assert.True(stats.ReceivedFromWorkers >= Size, $"{apart} received {stats.ReceivedFromWorkers} bytes, expected the {Size} of the value");

        // Every copy holds the same bytes: read each straight from its worker.
        using var client = new DataClient(PeerKind.Client, credentials: cluster.Credentials);
        var copies = pool.Workers().ToDictionary(w => w.Name, w => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(client.Get(w.Data, [value.Key])[0]!.Span)));
        Assert.Equal(3, copies.Count);
        Assert.Single(copies.Values.Distinct());
        var sums = await pool.GatherAsync([await pool.ApplyAsync((double[] xs) => xs.Sum(), value).WaitAsync(Slow)]);
        Assert.Equal(Enumerable.Range(0, SmallElements).Sum(i => 7.0 + i % 1000 + 1.0), sums.Single());
    }

    private const int SmallElements = 3_000_000; // 24 MB of doubles

    /// <summary>The executor's mappings of its worker's segments, each as its address range and memory file (inode).</summary>
    private static HashSet<string> SegmentMappings(int processId) =>
        File.ReadLines($"/proc/{processId}/maps").Where(line => line.Contains("memfd:distributed-value", StringComparison.Ordinal))
            .Select(line => string.Join(' ', line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is var fields ? [fields[0], fields[4]] : []))
            .ToHashSet();

    /// <summary>200 MB whose every element depends on its place: a mix-up with another value shows.</summary>
    private static double[] Ramp(double start, int elements = Elements)
    {
        var values = new double[elements];
        for (var i = 0; i < values.Length; i++) values[i] = start + i % 1000 + 1.0;
        return values;
    }

    private static double RampSum(double start) => Enumerable.Range(0, Elements).Sum(i => start + i % 1000 + 1.0);

    private static WorkerTransferStats Stats(Pool pool) => pool.TransferStatsAsync().GetAwaiter().GetResult().Values.Single();
}

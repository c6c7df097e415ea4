using System.Diagnostics;
using System.Runtime.InteropServices;
using Distributed.Benchmarks.Baselines;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// Moving a large <c>double[]</c> of random values from the worker that made it to another one with
/// <c>Pool.ReplicateAsync</c>, in MB/s (10⁶ bytes of array per second), the median of <c>--repeats</c>
/// runs after a warm-up, against a plain TCP copy of the same bytes over loopback from this process
/// to another (summarized the same way).
/// Each run makes a fresh array, since releasing a replica would release the original too.
/// </summary>
internal static class Transfer
{
    private const string BaselineName = "loopback TCP copy, 2 processes";

    public static async Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var pool = session.Pool;
        var count = checked((int)(options.TransferBytes / sizeof(double)));
        var bytes = (long)count * sizeof(double);
        ResultWriter.Log($"transfer: {options.Repeats} × {bytes / 1e6:0} MB between workers");

        var seconds = new List<double>();
        var received = new List<long>();
        // Run -1 warms up the path between the workers with a small array; it is not counted.
        for (var run = -1; run < options.Repeats; run++)
        {
            var (size, seed) = (run >= 0 ? count : Math.Min(count, 1_000_000), run + 2);
            var array = await pool.ApplyAsync(() => RandomArray(size, seed), cancellation);
            var holders = pool.WhoHas(array);
            if (holders.Count != 1) throw new InvalidOperationException($"Expected one holder of the new array, found [{string.Join(", ", holders)}].");
            var target = pool.Workers().Select(w => w.Name).FirstOrDefault(name => !holders.Contains(name))
                ?? throw new InvalidOperationException("Transfer needs at least two workers.");

            var before = await pool.TransferStatsAsync(cancellation);
            var watch = Stopwatch.StartNew();
            await pool.ReplicateAsync([array], target, cancellation);
            var elapsed = watch.Elapsed;
            var after = await pool.TransferStatsAsync(cancellation);

            await ExpectHolderAsync(pool, array, target, cancellation);
            pool.Release([array]);
            if (run < 0) continue;
            seconds.Add(elapsed.TotalSeconds);
            received.Add(after[target].ReceivedFromWorkers - before[target].ReceivedFromWorkers);
            ResultWriter.Log($"transfer: run {run + 1}: {bytes / 1e6 / elapsed.TotalSeconds:0} MB/s ({holders[0]} → {target})");
        }

        var baseline = await LoopbackCopyAsync(count, options.Repeats, cancellation);
        var rates = Summary.Of(seconds).Select(s => bytes / 1e6 / s);
        var baselineRates = Summary.Of(baseline).Select(s => bytes / 1e6 / s);
        var parameters = new Dictionary<string, object?>
        {
            ["bytes"] = bytes,
            ["element_type"] = "double",
            ["warm_up"] = $"a transfer of {Math.Min(count, 1_000_000) * (long)sizeof(double) / 1e6:0} MB",
            ["seconds"] = seconds.Select(s => Math.Round(s, 4)).ToList(),
            ["baseline_seconds"] = baseline.Select(s => Math.Round(s, 4)).ToList(),
            ["bytes_received_by_target"] = received,
            ["method"] = "Pool.ReplicateAsync",
        };
        rates.AddTo(parameters);
        baselineRates.AddTo(parameters, "baseline_");
        writer.Write(new BenchmarkResult("transfer_median", SystemUnderTest.Distributed, rates.Median, "MB/s",
            new Baseline(BaselineName, baselineRates.Median, "MB/s"), parameters));
    }

    /// <summary>
    /// Checks that the center lists <paramref name="target"/> as a holder. The worker answers
    /// ReplicateAsync and tells the center of its copy at the same moment, so the center may
    /// learn of it a moment after ReplicateAsync returned: allow it a few seconds.
    /// </summary>
    private static async Task ExpectHolderAsync(Pool pool, RemoteData<double[]> data, string target, CancellationToken cancellation)
    {
        var deadline = Stopwatch.StartNew();
        var polls = 0;
        while (!pool.WhoHas(data).Contains(target))
        {
            polls++;
            if (deadline.Elapsed > TimeSpan.FromSeconds(5))
                throw new InvalidOperationException($"ReplicateAsync returned but the center does not list {target} as a holder of {data.Key}.");
            await Task.Delay(10, cancellation);
        }
        if (polls > 0) ResultWriter.Log($"transfer: the center listed the copy {deadline.Elapsed.TotalMilliseconds:0} ms after ReplicateAsync returned");
    }

    /// <summary>The array the workload moves: <paramref name="count"/> uniform random doubles. Runs on a worker.</summary>
    private static double[] RandomArray(int count, int seed)
    {
        var random = new Random(seed);
        var data = new double[count];
        for (var i = 0; i < data.Length; i++) data[i] = random.NextDouble();
        return data;
    }

    /// <summary>Seconds to copy the same array's bytes to a sink process over loopback TCP, per run, after a warm-up.</summary>
    private static async Task<List<double>> LoopbackCopyAsync(int count, int repeats, CancellationToken cancellation)
    {
        var array = RandomArray(count, seed: 1);
        using var peer = await LoopbackPeer.StartAsync(cancellation);
        using var connection = peer.OpenBulk();
        var payload = MemoryMarshal.AsBytes(array.AsSpan());
        connection.Send(payload[..Math.Min(payload.Length, 16 << 20)]);
        var seconds = new List<double>(repeats);
        for (var run = 0; run < repeats; run++)
        {
            cancellation.ThrowIfCancellationRequested();
            seconds.Add(connection.Send(payload).TotalSeconds);
        }
        return seconds;
    }
}

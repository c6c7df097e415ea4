using System.Diagnostics;
using Distributed.Benchmarks.Baselines;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// Latency of one <c>pool.Apply(x => x + 1, i).Get()</c>: submit, run on a worker, fetch the result
/// back; median and p99 in µs, against a ping-pong of an 8-byte message over loopback TCP between
/// two processes (the floor of any request and answer between processes on this machine).
/// </summary>
internal static class RoundTrip
{
    private const int WarmUp = 200;
    private const int ReleaseEvery = 500;

    public static async Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var pool = session.Pool;
        ResultWriter.Log($"roundtrip: {WarmUp} warm-up and {options.RoundTrips} timed Apply(...).Get()");
        var micros = new List<double>(options.RoundTrips);
        var applyMicros = new List<double>(options.RoundTrips);
        var made = new List<RemoteData<int>>(ReleaseEvery);
        for (var i = -WarmUp; i < options.RoundTrips; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var watch = Stopwatch.StartNew();
            var result = pool.Apply(Functions.Increment, i);
            var applied = watch.Elapsed;
            var value = result.Get();
            var elapsed = watch.Elapsed;
            if (value != i + 1) throw new InvalidOperationException($"Apply(x => x + 1, {i}) returned {value}.");
            if (i >= 0)
            {
                micros.Add(elapsed.TotalMicroseconds);
                applyMicros.Add(applied.TotalMicroseconds);
            }
            made.Add(result);
            if (made.Count == ReleaseEvery)
            {
                pool.Release(made);
                made.Clear();
            }
        }
        pool.Release(made);

        var baseline = await LoopbackPingPongAsync(options.RoundTrips, cancellation);
        var parameters = new Dictionary<string, object?>
        {
            ["round_trips"] = options.RoundTrips,
            ["warm_up"] = WarmUp,
            ["workers"] = session.Workers,
            ["mean_us"] = Math.Round(micros.Average(), 1),
            // where the time goes: Apply (submit until the result exists on a worker) and Get (fetch it)
            ["apply_median_us"] = Math.Round(Statistics.Median(applyMicros), 1),
            ["get_median_us"] = Math.Round(Statistics.Median(micros.Zip(applyMicros, (all, apply) => all - apply).ToList()), 1),
            ["max_us"] = Math.Round(micros.Max(), 1),
        };
        const string BaselineName = "loopback TCP ping-pong, 8 bytes, 2 processes";
        writer.Write(new BenchmarkResult("roundtrip_median", SystemUnderTest.Distributed, Statistics.Median(micros), "us",
            new Baseline(BaselineName, Statistics.Median(baseline), "us"), parameters));
        writer.Write(new BenchmarkResult("roundtrip_p99", SystemUnderTest.Distributed, Statistics.Percentile(micros, 99), "us",
            new Baseline(BaselineName, Statistics.Percentile(baseline, 99), "us"), parameters));
    }

    /// <summary>Round trips of an 8-byte message to a sink process and back, in µs, after a warm-up.</summary>
    private static async Task<List<double>> LoopbackPingPongAsync(int count, CancellationToken cancellation)
    {
        using var peer = await LoopbackPeer.StartAsync(cancellation);
        using var echo = peer.OpenEcho();
        for (var i = 0; i < WarmUp; i++) echo.RoundTrip(i);
        var micros = new List<double>(count);
        for (var i = 0; i < count; i++) micros.Add(echo.RoundTrip(i).TotalMicroseconds);
        return micros;
    }
}

using System.Diagnostics;
using Distributed.Benchmarks.Baselines;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// Latency of one <c>pool.Apply(x => x + 1, i).Get()</c>: submit, run on a worker, fetch the result
/// back, in µs, against a ping-pong of an 8-byte message over loopback TCP between two processes (the
/// floor of any request and answer between processes on this machine). After a warm-up, <c>--repeats</c>
/// runs of <c>--roundtrips</c> each: <c>roundtrip_median</c> is the median of the runs' medians,
/// <c>roundtrip_p99</c> the median of their 99th percentiles; the baseline is summarized the same way.
/// </summary>
internal static class RoundTrip
{
    private const int WarmUp = 200;
    private const int ReleaseEvery = 500;
    private const string BaselineName = "loopback TCP ping-pong, 8 bytes, 2 processes";

    public static async Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var pool = session.Pool;
        ResultWriter.Log($"roundtrip: {WarmUp} warm-up and {options.Repeats} runs of {options.RoundTrips} timed Apply(...).Get()");
        TimeRoundTrips(pool, -WarmUp, WarmUp, cancellation);
        var runs = new List<RoundTripRun>(options.Repeats);
        for (var run = 0; run < options.Repeats; run++)
        {
            runs.Add(TimeRoundTrips(pool, run * options.RoundTrips, options.RoundTrips, cancellation));
            ResultWriter.Log($"roundtrip: run {run + 1}: median {Statistics.Median(runs[^1].Micros):0} µs, p99 {Statistics.Percentile(runs[^1].Micros, 99):0} µs");
        }

        var baseline = await LoopbackPingPongAsync(options.RoundTrips, options.Repeats, cancellation);
        var all = runs.SelectMany(r => r.Micros).ToList();
        var common = new Dictionary<string, object?>
        {
            ["round_trips_per_run"] = options.RoundTrips,
            ["warm_up"] = $"{WarmUp} round trips",
            ["workers"] = session.Workers,
            ["mean_us"] = Math.Round(all.Average(), 1),
            // where the time goes: Apply (submit until the result exists on a worker) and Get (fetch it), median of the runs' medians
            ["apply_median_us"] = Math.Round(Summary.Of(runs.Select(r => Statistics.Median(r.ApplyMicros))).Median, 1),
            ["get_median_us"] = Math.Round(Summary.Of(runs.Select(r => Statistics.Median(r.GetMicros))).Median, 1),
            ["slowest_us"] = Math.Round(all.Max(), 1),
        };
        foreach (var (benchmark, statistic) in new (string, Func<List<double>, double>)[]
        {
            ("roundtrip_median", Statistics.Median),
            ("roundtrip_p99", micros => Statistics.Percentile(micros, 99)),
        })
        {
            var figure = Summary.Of(runs.Select(r => statistic(r.Micros)));
            var floor = Summary.Of(baseline.Select(statistic));
            var parameters = figure.AddTo(new Dictionary<string, object?>(common));
            floor.AddTo(parameters, "baseline_");
            writer.Write(new BenchmarkResult(benchmark, SystemUnderTest.Distributed, figure.Median, "us",
                new Baseline(BaselineName, floor.Median, "us"), parameters));
        }
    }

    /// <summary>The µs of each of one run's round trips, whole and split into Apply and Get.</summary>
    private sealed record RoundTripRun(List<double> Micros, List<double> ApplyMicros)
    {
        public List<double> GetMicros => Micros.Zip(ApplyMicros, (all, apply) => all - apply).ToList();
    }

    /// <summary><paramref name="count"/> round trips of the values from <paramref name="first"/> on, each checked; their results released as it goes.</summary>
    private static RoundTripRun TimeRoundTrips(Pool pool, int first, int count, CancellationToken cancellation)
    {
        var micros = new List<double>(count);
        var applyMicros = new List<double>(count);
        var made = new List<RemoteData<int>>(ReleaseEvery);
        for (var i = first; i < first + count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var watch = Stopwatch.StartNew();
            var result = pool.Apply(Functions.Increment, i);
            var applied = watch.Elapsed;
            var value = result.Get();
            var elapsed = watch.Elapsed;
            if (value != i + 1) throw new InvalidOperationException($"Apply(x => x + 1, {i}) returned {value}.");
            micros.Add(elapsed.TotalMicroseconds);
            applyMicros.Add(applied.TotalMicroseconds);
            made.Add(result);
            if (made.Count == ReleaseEvery)
            {
                pool.Release(made);
                made.Clear();
            }
        }
        pool.Release(made);
        return new RoundTripRun(micros, applyMicros);
    }

    /// <summary>Runs of <paramref name="count"/> round trips of an 8-byte message to a sink process and back, in µs, after a warm-up.</summary>
    private static async Task<List<List<double>>> LoopbackPingPongAsync(int count, int runs, CancellationToken cancellation)
    {
        using var peer = await LoopbackPeer.StartAsync(cancellation);
        using var echo = peer.OpenEcho();
        for (var i = 0; i < WarmUp; i++) echo.RoundTrip(i);
        var micros = new List<List<double>>(runs);
        for (var run = 0; run < runs; run++)
        {
            cancellation.ThrowIfCancellationRequested();
            var one = new List<double>(count);
            for (var i = 0; i < count; i++) one.Add(echo.RoundTrip(i).TotalMicroseconds);
            micros.Add(one);
        }
        return micros;
    }
}

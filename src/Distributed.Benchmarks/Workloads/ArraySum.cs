using System.Numerics.Tensors;
using Distributed.Collections;
using Distributed.Dask;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// <c>DArray.Arange(200_000_000, chunks: 2_000_000).Sum()</c> in values per second: on the cluster
/// (each chunk generated and summed a tile at a time on a worker, never materialized) and on the
/// threaded local scheduler, against one plain loop and <c>TensorPrimitives.Sum</c> over the
/// materialized array in this process. Each the median of <c>--repeats</c> runs after a warm-up run.
/// </summary>
internal static class ArraySum
{
    private const int Length = 200_000_000;
    private const int Chunk = 2_000_000;

    // Σ i for i < n, about 2·10^16: above 2^53, so each way of summing rounds a little differently
    // (one running loop the most), and the check allows for it.
    private const double Expected = (double)Length * (Length - 1) / 2;
    private const double Tolerance = 1e-6;

    public static Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        ResultWriter.Log($"arraysum: Arange({Length:N0}, chunks: {Chunk:N0}).Sum() on {session.Workers} workers");
        using var cluster = ClusterScheduler.On(session.Pool);
        var runs = options.Repeats;
        var onCluster = Time(runs, () => DArray.Arange(Length, chunks: Chunk).Sum().Compute(cluster), cancellation);
        var threaded = Time(runs, () => DArray.Arange(Length, chunks: Chunk).Sum().Compute(Scheduler.Threaded), cancellation);
        var loop = Time(runs, PlainLoop, cancellation);
        var values = new double[Length];
        for (var i = 0; i < values.Length; i++) values[i] = i;
        var tensor = Time(runs, () => TensorPrimitives.Sum(values), cancellation);

        var common = new Dictionary<string, object?>
        {
            ["length"] = Length,
            ["chunk"] = Chunk,
            ["workers"] = session.Workers,
            ["cluster_seconds"] = Seconds(onCluster),
            ["threaded_seconds"] = Seconds(threaded),
            ["plain_loop_seconds"] = Seconds(loop),
            ["tensor_primitives_seconds"] = Seconds(tensor),
            ["machine"] = $"{Environment.ProcessorCount} cores",
        };
        foreach (var (benchmark, seconds, baselineName, baselineSeconds) in new[]
        {
            ("array_sum", onCluster, "plain loop (1 thread)", loop),
            ("array_sum_threaded", threaded, "TensorPrimitives.Sum over a materialized array (1 thread)", tensor),
        })
        {
            var rate = seconds.Select(s => Length / s);
            var baseline = baselineSeconds.Select(s => Length / s);
            var parameters = rate.AddTo(new Dictionary<string, object?>(common));
            baseline.AddTo(parameters, "baseline_");
            writer.Write(new BenchmarkResult(benchmark, SystemUnderTest.Distributed, rate.Median, "values/s",
                new Baseline(baselineName, baseline.Median, "values/s"), parameters));
        }
        return Task.CompletedTask;
    }

    /// <summary>Every run's seconds, for the params.</summary>
    private static List<double> Seconds(Summary seconds) => seconds.Runs.Select(s => Math.Round(s, 4)).ToList();

    private static double PlainLoop()
    {
        var sum = 0.0;
        for (var i = 0; i < Length; i++) sum += i;
        return sum;
    }

    /// <summary>The seconds of <paramref name="runs"/> timed runs of <paramref name="sum"/> after a warm-up, each sum checked.</summary>
    private static Summary Time(int runs, Func<double> sum, CancellationToken cancellation) =>
        Statistics.TimeAfterWarmUp(runs, () =>
        {
            var total = sum();
            if (Math.Abs(total - Expected) > Tolerance * Expected) throw new InvalidOperationException($"The sum is {total}, expected {Expected}.");
            return total;
        }, cancellation).Seconds;
}

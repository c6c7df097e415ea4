using System.Numerics.Tensors;
using Distributed.Collections;
using Distributed.Dask;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// <c>DArray.Arange(200_000_000, chunks: 2_000_000).Sum()</c> in values per second: on the cluster
/// (each chunk generated and summed a tile at a time on a worker, never materialized) and on the
/// threaded local scheduler, against one plain loop and <c>TensorPrimitives.Sum</c> over the
/// materialized array in this process. Best of a few runs after a warm-up.
/// </summary>
internal static class ArraySum
{
    private const int Length = 200_000_000;
    private const int Chunk = 2_000_000;
    private const int Runs = 3;

    // Σ i for i < n, about 2·10^16: above 2^53, so each way of summing rounds a little differently
    // (one running loop the most), and the check allows for it.
    private const double Expected = (double)Length * (Length - 1) / 2;
    private const double Tolerance = 1e-6;

    public static Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        ResultWriter.Log($"arraysum: Arange({Length:N0}, chunks: {Chunk:N0}).Sum() on {session.Workers} workers");
        using var cluster = ClusterScheduler.On(session.Pool);
        var onCluster = Best(() => DArray.Arange(Length, chunks: Chunk).Sum().Compute(cluster), cancellation);
        var threaded = Best(() => DArray.Arange(Length, chunks: Chunk).Sum().Compute(Scheduler.Threaded), cancellation);
        var loop = Best(PlainLoop, cancellation);
        var values = new double[Length];
        for (var i = 0; i < values.Length; i++) values[i] = i;
        var tensor = Best(() => TensorPrimitives.Sum(values), cancellation);

        var parameters = new Dictionary<string, object?>
        {
            ["length"] = Length,
            ["chunk"] = Chunk,
            ["workers"] = session.Workers,
            ["runs"] = $"best of {Runs} after a warm-up",
            ["cluster_seconds"] = Math.Round(onCluster, 4),
            ["threaded_seconds"] = Math.Round(threaded, 4),
            ["plain_loop_seconds"] = Math.Round(loop, 4),
            ["tensor_primitives_seconds"] = Math.Round(tensor, 4),
            ["machine"] = $"{Environment.ProcessorCount} cores",
        };
        writer.Write(new BenchmarkResult("array_sum", SystemUnderTest.Distributed, Length / onCluster, "values/s",
            new Baseline("plain loop (1 thread)", Length / loop, "values/s"), parameters));
        writer.Write(new BenchmarkResult("array_sum_threaded", SystemUnderTest.Distributed, Length / threaded, "values/s",
            new Baseline("TensorPrimitives.Sum over a materialized array (1 thread)", Length / tensor, "values/s"), parameters));
        return Task.CompletedTask;
    }

    private static double PlainLoop()
    {
        var sum = 0.0;
        for (var i = 0; i < Length; i++) sum += i;
        return sum;
    }

    /// <summary>The fastest of <see cref="Runs"/> timed runs of <paramref name="sum"/> after a warm-up, each sum checked.</summary>
    private static double Best(Func<double> sum, CancellationToken cancellation) =>
        Statistics.FastestAfterWarmUp(Runs, () =>
        {
            var total = sum();
            if (Math.Abs(total - Expected) > Tolerance * Expected) throw new InvalidOperationException($"The sum is {total}, expected {Expected}.");
            return total;
        }, cancellation).Seconds;
}

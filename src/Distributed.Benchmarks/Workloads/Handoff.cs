using System.Diagnostics;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// A large value handed between a worker and its executor process, in MB/s (10⁶ bytes of array per
/// second), the median of <c>--repeats</c> runs after a warm-up: <c>handoff_input</c> is an
/// <c>ApplyAsync</c> of a task that reads a stored <c>--transfer-mb</c> <c>double[]</c> and returns its
/// length (the input goes to the executor), <c>handoff_roundtrip</c> one that returns that array itself
/// (the input goes there and an equal result comes back to be stored). Both run where the array is
/// stored: no transfer between workers, only the worker ↔ executor path (a socket, or shared memory).
/// </summary>
internal static class Handoff
{
    public static async Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var pool = session.Pool;
        var count = checked((int)(options.TransferBytes / sizeof(double)));
        var bytes = (long)count * sizeof(double);
        ResultWriter.Log($"handoff: {options.Repeats} × {bytes / 1e6:0} MB between a worker and its executor");
        var array = await pool.ApplyAsync(() => Ramp(count), cancellation);

        var inputSeconds = new List<double>();
        var roundTripSeconds = new List<double>();
        for (var run = -1; run < options.Repeats; run++)
        {
            var watch = Stopwatch.StartNew();
            var length = await pool.ApplyAsync((double[] xs) => xs.Length, array, cancellation);
            var input = watch.Elapsed;
            watch.Restart();
            var same = await pool.ApplyAsync((double[] xs) => xs, array, cancellation);
            var roundTrip = watch.Elapsed;
            if (await length.GetAsync(cancellation) != count) throw new InvalidOperationException("The task saw another length.");
            pool.Release([length, same]);
            if (run < 0) continue;
            inputSeconds.Add(input.TotalSeconds);
            roundTripSeconds.Add(roundTrip.TotalSeconds);
            ResultWriter.Log($"handoff: run {run + 1}: input {bytes / 1e6 / input.TotalSeconds:0} MB/s, input and result {2 * bytes / 1e6 / roundTrip.TotalSeconds:0} MB/s");
        }
        pool.Release([array]);

        foreach (var (name, seconds, moved) in new[] { ("handoff_input", inputSeconds, bytes), ("handoff_roundtrip", roundTripSeconds, 2 * bytes) })
        {
            var rates = Summary.Of(seconds).Select(s => moved / 1e6 / s);
            var parameters = new Dictionary<string, object?>
            {
                ["bytes"] = bytes,
                ["bytes_moved"] = moved,
                ["seconds"] = seconds.Select(s => Math.Round(s, 4)).ToList(),
                ["method"] = name == "handoff_input" ? "ApplyAsync((double[] xs) => xs.Length, stored)" : "ApplyAsync((double[] xs) => xs, stored)",
            };
            rates.AddTo(parameters);
            writer.Write(new BenchmarkResult(name, SystemUnderTest.Distributed, rates.Median, "MB/s", null, parameters));
        }
    }

    /// <summary>The array handed over: <paramref name="count"/> values that depend on their place. Runs on a worker.</summary>
    private static double[] Ramp(int count)
    {
        var values = new double[count];
        for (var i = 0; i < values.Length; i++) values[i] = i % 1000;
        return values;
    }
}

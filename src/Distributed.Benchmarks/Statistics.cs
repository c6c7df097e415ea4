namespace Distributed.Benchmarks;

/// <summary>Order statistics of a set of measurements.</summary>
public static class Statistics
{
    /// <summary>The median (mean of the two middle values for an even count).</summary>
    public static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = Sorted(values);
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>The <paramref name="percent"/>th percentile, by the nearest-rank method.</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double percent)
    {
        var sorted = Sorted(values);
        var rank = (int)Math.Ceiling(percent / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>
    /// Runs <paramref name="run"/> once untimed (a warm-up), then <paramref name="runs"/> times timed:
    /// the fastest run's seconds, and the last run's result for the caller to check.
    /// </summary>
    public static (double Seconds, T Result) FastestAfterWarmUp<T>(int runs, Func<T> run, CancellationToken cancellation)
    {
        var result = run();
        var best = double.MaxValue;
        for (var i = 0; i < runs; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var watch = System.Diagnostics.Stopwatch.StartNew();
            result = run();
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return (best, result);
    }

    private static double[] Sorted(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("No measurements.", nameof(values));
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return sorted;
    }
}

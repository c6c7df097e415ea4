using System.Diagnostics;

namespace Distributed.Benchmarks;

/// <summary>Order statistics of a set of measurements.</summary>
public static class Statistics
{
    /// <summary>The fewest timed runs a figure is the median of (<c>--repeats</c> may ask for more).</summary>
    public const int MinimumRuns = 5;

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
    /// the seconds of each timed run, and the last run's result for the caller to check.
    /// </summary>
    public static (Summary Seconds, T Result) TimeAfterWarmUp<T>(int runs, Func<T> run, CancellationToken cancellation)
    {
        var result = run();
        var seconds = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var watch = Stopwatch.StartNew();
            result = run();
            seconds.Add(watch.Elapsed.TotalSeconds);
        }
        return (Summary.Of(seconds), result);
    }

    /// <summary>Four significant figures at least, one decimal at most for big numbers: a table, not noise.</summary>
    public static double Round(double value) =>
        double.IsFinite(value) ? Math.Round(value, Math.Abs(value) >= 100 ? 1 : 4) : value;

    private static double[] Sorted(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("No measurements.", nameof(values));
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return sorted;
    }
}

/// <summary>
/// A figure measured over several timed runs, in the figure's unit: the median of the runs (what the
/// benchmark reports, never the best), their min and max, and every run in the order it ran. Every
/// figure and its baseline is reported this way, in the params by <see cref="AddTo"/>.
/// </summary>
public sealed record Summary(double Median, double Min, double Max, IReadOnlyList<double> Runs)
{
    /// <summary>The summary of <paramref name="runs"/> (at least one).</summary>
    public static Summary Of(IEnumerable<double> runs)
    {
        var list = runs.ToList();
        return new Summary(Statistics.Median(list), list.Min(), list.Max(), list);
    }

    /// <summary>Each run turned into another unit (e.g. seconds into a rate), summarized again: min and max follow the new order.</summary>
    public Summary Select(Func<double, double> convert) => Of(Runs.Select(convert));

    /// <summary>What the figure is, e.g. "median of 5 after a warm-up".</summary>
    public string Statistic => $"median of {Runs.Count} after a warm-up";

    /// <summary>
    /// Adds <c>statistic</c>, <c>runs</c>, <c>min</c> and <c>max</c> to <paramref name="parameters"/>, each
    /// name after <paramref name="prefix"/> (<c>baseline_</c> for the baseline's); returns them.
    /// </summary>
    public Dictionary<string, object?> AddTo(Dictionary<string, object?> parameters, string prefix = "")
    {
        parameters[prefix + "statistic"] = Statistic;
        parameters[prefix + "runs"] = Runs.Select(Statistics.Round).ToList();
        parameters[prefix + "min"] = Statistics.Round(Min);
        parameters[prefix + "max"] = Statistics.Round(Max);
        return parameters;
    }
}

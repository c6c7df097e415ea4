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

    private static double[] Sorted(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("No measurements.", nameof(values));
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return sorted;
    }
}

using Distributed.Dask;

namespace Distributed.Tests.Graphs;

/// <summary>Sums a level of graph keys pairwise, level by level, to one root (an odd key out is added to 0.0).</summary>
internal static class PairwiseSum
{
    private static readonly Func<double, double, double> Add = (a, b) => a + b;

    /// <summary>Adds the sum's tasks to <paramref name="dsk"/> and returns the root's key.</summary>
    public static string AddTo(Graph dsk, IReadOnlyList<string> level)
    {
        for (var depth = 0; level.Count > 1; depth++)
        {
            var next = new List<string>();
            for (var i = 0; i < level.Count; i += 2)
            {
                var key = $"sum-{depth}-{i / 2}";
                dsk[key] = i + 1 < level.Count ? (Add, level[i], level[i + 1]) : (Add, level[i], 0.0);
                next.Add(key);
            }
            level = next;
        }
        return level[0];
    }
}

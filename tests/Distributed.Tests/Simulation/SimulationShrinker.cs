namespace Distributed.Tests.Simulation;

/// <summary>
/// Shrinks a failing run of any simulation whose steps replay on their own (a step picks among what
/// exists at that moment, so any subsequence of steps is itself a run): the shortest sequence found
/// that still fails the same way.
/// </summary>
internal static class SimulationShrinker
{
    /// <summary>
    /// The shortest sequence found for which <paramref name="replay"/> fails with the same
    /// <paramref name="signature"/> as <paramref name="failure"/>: first the shortest failing prefix (by
    /// bisection over lengths), then chunks of steps removed, halving the chunk each round.
    /// </summary>
    public static IReadOnlyList<TStep> Shrink<TStep>(IReadOnlyList<TStep> steps, Exception failure,
        Func<IReadOnlyList<TStep>, Exception?> replay, Func<Exception, string> signature)
    {
        var wanted = signature(failure);
        bool FailsAlike(IReadOnlyList<TStep> candidate) => replay(candidate) is { } e && signature(e) == wanted;
        var current = steps.ToList();
        // Shortest failing prefix, by bisection over lengths (a prefix is itself a valid run).
        var (low, high) = (0, current.Count);
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (FailsAlike(current.Take(middle).ToList())) high = middle;
            else low = middle + 1;
        }
        current = current.Take(high).ToList();
        for (var chunk = Math.Max(1, current.Count / 2); chunk >= 1; chunk /= 2)
        {
            for (var start = 0; start + chunk <= current.Count;)
            {
                var candidate = current.Take(start).Concat(current.Skip(start + chunk)).ToList();
                if (FailsAlike(candidate)) current = candidate;
                else start += chunk;
            }
        }
        return current;
    }
}

using System.Diagnostics;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// Throughput of <c>Pool.Map</c> over many trivial tasks (<c>x => x + 1</c>), from the call until
/// every result exists on the cluster, against <c>Parallel.For</c> of the same function in this process.
/// </summary>
internal static class MapThroughput
{
    private const int BaselineRuns = 5;

    public static async Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var pool = session.Pool;
        var items = Enumerable.Range(0, options.Tasks).ToArray();

        ResultWriter.Log($"map: {options.Tasks} tasks on {session.Workers} workers");
        // The center keeps a little per task (its key, holder and lineage) while the results are held.
        using var centerMemory = ProcessMemory.IsAvailable(session.CenterProcessId) ? CenterMemory.Start(session.CenterProcessId) : null;
        var watch = Stopwatch.StartNew();
        var results = await pool.MapAsync(Functions.Increment, items, cancellation);
        var elapsed = watch.Elapsed;
        var memory = centerMemory?.Stop();

        var perWorker = results.GroupBy(r => r.Location?.Worker ?? "?").ToDictionary(g => g.Key, g => g.Count());
        await CheckAsync(pool, results, cancellation);
        pool.Release(results);

        var baseline = ParallelForThroughput(options.Tasks);
        writer.Write(new BenchmarkResult(
            "map_throughput", SystemUnderTest.Distributed, options.Tasks / elapsed.TotalSeconds, "tasks/s",
            new Baseline("Parallel.For (1 process)", baseline, "tasks/s"),
            new Dictionary<string, object?>
            {
                ["tasks"] = options.Tasks,
                ["workers"] = session.Workers,
                ["threads_per_worker"] = 1,
                ["seconds"] = Math.Round(elapsed.TotalSeconds, 3),
                ["tasks_per_worker"] = perWorker,
                ["baseline_runs"] = $"best of {BaselineRuns}",
                ["center_peak_bytes_per_task"] = memory is null ? null : memory.Growth / options.Tasks,
                ["center_held_bytes_per_task"] = memory is null ? null : (memory.After - memory.Before) / options.Tasks,
            }));
    }

    /// <summary>Fetches a sample of the results (first, last, and spread between) and checks them.</summary>
    private static async Task CheckAsync(Pool pool, List<RemoteData<int>> results, CancellationToken cancellation)
    {
        var step = Math.Max(1, results.Count / 100);
        var sample = Enumerable.Range(0, results.Count).Where(i => i % step == 0 || i == results.Count - 1).ToList();
        var values = await pool.GatherAsync(sample.Select(i => results[i]), cancellation);
        for (var j = 0; j < sample.Count; j++)
        {
            if (values[j] != sample[j] + 1)
                throw new InvalidOperationException($"Map result {sample[j]} is {values[j]}, expected {sample[j] + 1}.");
        }
    }

    /// <summary>Tasks per second of <c>Parallel.For</c> running the same delegate, best of a few runs after a warm-up.</summary>
    private static double ParallelForThroughput(int tasks)
    {
        var function = Functions.Increment;
        var output = new int[tasks];
        Parallel.For(0, tasks, i => output[i] = function(i));
        var best = TimeSpan.MaxValue;
        for (var run = 0; run < BaselineRuns; run++)
        {
            var watch = Stopwatch.StartNew();
            Parallel.For(0, tasks, i => output[i] = function(i));
            var elapsed = watch.Elapsed;
            if (elapsed < best) best = elapsed;
        }
        if (output[^1] != tasks) throw new InvalidOperationException("Parallel.For computed wrong values.");
        return tasks / best.TotalSeconds;
    }
}

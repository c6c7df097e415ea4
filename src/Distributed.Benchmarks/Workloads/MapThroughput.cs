using System.Diagnostics;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// Throughput of <c>Pool.Map</c> over many trivial tasks (<c>x => x + 1</c>), from the call until
/// every result exists on the cluster, against <c>Parallel.For</c> of the same function in this
/// process: the median of <c>--repeats</c> timed Maps after a warm-up Map of the same size, each
/// checked. The center's memory per task is sampled during the warm-up (the first Map of this size,
/// whose memory the center had to find), so that the sampling does not slow the timed runs.
/// </summary>
internal static class MapThroughput
{
    public static async Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var pool = session.Pool;
        var items = Enumerable.Range(0, options.Tasks).ToArray();

        ResultWriter.Log($"map: a warm-up and {options.Repeats} timed Maps of {options.Tasks} tasks on {session.Workers} workers");
        // The center keeps a little per task (its key, holder and lineage) while the results are held.
        CenterMemory? memory;
        using (var centerMemory = ProcessMemory.IsAvailable(session.CenterProcessId) ? CenterMemory.Start(session.CenterProcessId) : null)
        {
            var warmUp = await pool.MapAsync(Functions.Increment, items, cancellation);
            memory = centerMemory?.Stop();
            await CheckAsync(pool, warmUp, cancellation);
            pool.Release(warmUp);
        }

        var seconds = new List<double>(options.Repeats);
        var perWorker = new List<Dictionary<string, int>>(options.Repeats);
        for (var run = 0; run < options.Repeats; run++)
        {
            var watch = Stopwatch.StartNew();
            var results = await pool.MapAsync(Functions.Increment, items, cancellation);
            seconds.Add(watch.Elapsed.TotalSeconds);
            perWorker.Add(results.GroupBy(r => r.Location?.Worker ?? "?").ToDictionary(g => g.Key, g => g.Count()));
            await CheckAsync(pool, results, cancellation);
            pool.Release(results);
            ResultWriter.Log($"map: run {run + 1}: {options.Tasks / seconds[^1]:0} tasks/s");
        }

        var throughput = Summary.Of(seconds).Select(s => options.Tasks / s);
        var baseline = ParallelForThroughput(options.Tasks, options.Repeats);
        var parameters = new Dictionary<string, object?>
        {
            ["tasks"] = options.Tasks,
            ["workers"] = session.Workers,
            ["threads_per_worker"] = 1,
            ["warm_up"] = $"a Map of {options.Tasks} tasks",
            ["seconds"] = seconds.Select(s => Math.Round(s, 3)).ToList(),
            ["tasks_per_worker"] = perWorker,
            ["center_peak_bytes_per_task"] = memory is null ? null : memory.Growth / options.Tasks,
            ["center_held_bytes_per_task"] = memory is null ? null : (memory.After - memory.Before) / options.Tasks,
            ["center_memory_measured"] = memory is null ? null : "during the warm-up Map",
        };
        throughput.AddTo(parameters);
        baseline.AddTo(parameters, "baseline_");
        writer.Write(new BenchmarkResult(
            "map_throughput", SystemUnderTest.Distributed, throughput.Median, "tasks/s",
            new Baseline("Parallel.For (1 process)", baseline.Median, "tasks/s"), parameters));
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

    /// <summary>Tasks per second of <c>Parallel.For</c> running the same delegate, per timed run after a warm-up.</summary>
    private static Summary ParallelForThroughput(int tasks, int runs)
    {
        var function = Functions.Increment;
        var output = new int[tasks];
        var (seconds, _) = Statistics.TimeAfterWarmUp(runs, () => Parallel.For(0, tasks, i => output[i] = function(i)), CancellationToken.None);
        if (output[^1] != tasks) throw new InvalidOperationException("Parallel.For computed wrong values.");
        return seconds.Select(s => tasks / s);
    }
}

using System.Diagnostics;
using Distributed.Dask;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// A tree reduction graph (<see cref="TreeReduction"/>) computed on the cluster with
/// <c>Pool.GetGraphAsync</c>, in tasks/s (the median of <c>--repeats</c> runs after a warm-up graph, each
/// from the call until the root's value is back, checked), against the same graph on <c>Scheduler.Threaded</c> (and
/// <c>Scheduler.Synchronous</c>, beside it in the parameters) in this process. While the largest graph
/// runs, it also samples the center's resident memory: its growth per task, against what the
/// <see cref="Graph"/> object itself takes in the client per task.
/// </summary>
internal static class GraphThroughput
{
    private const int WarmUpTasks = 5_000;

    public static async Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var pool = session.Pool;
        var warmUp = TreeReduction.Build(WarmUpTasks);
        ResultWriter.Log($"graph: warm-up tree of {warmUp.Tasks} tasks");
        warmUp.Check(await pool.GetGraphAsync(warmUp.Graph, warmUp.Root, cancellation), "the cluster (warm-up)");
        warmUp.Check(Scheduler.Threaded.Get(warmUp.Graph, warmUp.Root), "Scheduler.Threaded (warm-up)");
        warmUp.Check(Scheduler.Synchronous.Get(warmUp.Graph, warmUp.Root), "Scheduler.Synchronous (warm-up)");

        var largest = options.GraphTasks.Max();
        var canMeasureMemory = ProcessMemory.IsAvailable(session.CenterProcessId);
        if (!canMeasureMemory)
            writer.Write(new BenchmarkNotRun("graph_center_memory", SystemUnderTest.Distributed, "skipped", $"/proc/{session.CenterProcessId}/status cannot be read (Linux only)."));
        foreach (var size in options.GraphTasks)
        {
            var tree = TreeReduction.Build(size);
            var measureMemory = canMeasureMemory && size == largest;
            ResultWriter.Log($"graph: tree of {tree.Tasks} tasks, {options.Repeats} runs on {session.Workers} workers{(measureMemory ? ", sampling the center's memory" : "")}");
            var seconds = new List<double>(options.Repeats);
            var memory = new List<CenterMemory>();
            for (var run = 0; run < options.Repeats; run++)
            {
                using var sampler = measureMemory ? CenterMemory.Start(session.CenterProcessId) : null;
                var watch = Stopwatch.StartNew();
                var value = await pool.GetGraphAsync(tree.Graph, tree.Root, cancellation);
                seconds.Add(watch.Elapsed.TotalSeconds);
                if (sampler is not null) memory.Add(sampler.Stop());
                tree.Check(value, "the cluster");
                ResultWriter.Log($"graph: run {run + 1}: {tree.Tasks / seconds[^1]:0} tasks/s");
            }

            var throughput = Summary.Of(seconds).Select(s => tree.Tasks / s);
            var threaded = Seconds(tree, Scheduler.Threaded, "Scheduler.Threaded", options.Repeats).Select(s => tree.Tasks / s);
            var synchronous = Seconds(tree, Scheduler.Synchronous, "Scheduler.Synchronous", options.Repeats).Select(s => tree.Tasks / s);
            var parameters = new Dictionary<string, object?>
            {
                ["graph"] = "tree reduction: (inc, i) leaves, pairwise (add, a, b) to one root",
                ["tasks"] = tree.Tasks,
                ["leaves"] = tree.Leaves,
                ["workers"] = session.Workers,
                ["threads_per_worker"] = 1,
                ["method"] = "Pool.GetGraphAsync",
                ["warm_up"] = $"a graph of {warmUp.Tasks} tasks",
                ["seconds"] = seconds.Select(s => Math.Round(s, 3)).ToList(),
                ["center_memory_sampled"] = measureMemory,
                ["synchronous_tasks_per_s"] = Math.Round(synchronous.Median),
                ["synchronous_min"] = Math.Round(synchronous.Min),
                ["synchronous_max"] = Math.Round(synchronous.Max),
            };
            throughput.AddTo(parameters);
            threaded.AddTo(parameters, "baseline_");
            writer.Write(new BenchmarkResult(
                "graph_throughput", SystemUnderTest.Distributed, throughput.Median, "tasks/s",
                new Baseline("Scheduler.Threaded (1 process)", threaded.Median, "tasks/s"), parameters));

            if (measureMemory) WriteMemory(tree, memory, writer);
        }
    }

    /// <summary>Seconds of each of <paramref name="runs"/> runs of the graph on a local scheduler (warmed up with the small graph before), checked.</summary>
    private static Summary Seconds(TreeReduction tree, IScheduler scheduler, string name, int runs)
    {
        var seconds = new List<double>(runs);
        for (var run = 0; run < runs; run++)
        {
            var watch = Stopwatch.StartNew();
            var value = scheduler.Get(tree.Graph, tree.Root);
            seconds.Add(watch.Elapsed.TotalSeconds);
            tree.Check(value, name);
        }
        return Summary.Of(seconds);
    }

    private static void WriteMemory(TreeReduction tree, List<CenterMemory> runs, ResultWriter writer)
    {
        if (runs.Count == 0) return;
        // The first run of the largest graph is the one whose memory the center had to find; later
        // runs may reuse what the first one grew, so they are listed but not the figure.
        var first = runs[0];
        var graphBytes = ClientGraphBytes(tree.Tasks);
        writer.Write(new BenchmarkResult(
            "graph_center_memory", SystemUnderTest.Distributed, (double)first.Growth / tree.Tasks, "bytes/task",
            new Baseline("the Graph object in the client (GC heap)", (double)graphBytes / tree.Tasks, "bytes/task"),
            new Dictionary<string, object?>
            {
                ["tasks"] = tree.Tasks,
                ["measure"] = "(peak VmRSS during the first run − VmRSS before) / tasks, of the dcenter process",
                ["rss_before_mb"] = Megabytes(first.Before),
                ["rss_peak_mb"] = Megabytes(first.Peak),
                ["rss_after_mb"] = Megabytes(first.After),
                ["peak_from"] = first.PeakSources,
                ["samples"] = first.Samples,
                // every run, to show whether the center gives back what a graph took
                ["runs_rss_before_peak_after_mb"] = runs.Select(r => new[] { Megabytes(r.Before), Megabytes(r.Peak), Megabytes(r.After) }).ToList(),
                ["growth_per_run_bytes_per_task"] = runs.Select(r => Math.Round((double)r.Growth / tree.Tasks)).ToList(),
                ["baseline_measure"] = "GC.GetTotalMemory(forced) after − before building the graph, / tasks",
            }));
    }

    private static double Megabytes(long bytes) => Math.Round(bytes / 1e6, 1);

    /// <summary>Bytes of GC heap a tree graph of <paramref name="tasks"/> tasks takes in this process.</summary>
    private static long ClientGraphBytes(int tasks)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var tree = TreeReduction.Build(tasks);
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(tree);
        return after - before;
    }
}

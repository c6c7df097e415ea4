using System.Diagnostics;
using Distributed.Benchmarks.Dask;
using Distributed.Benchmarks.Workloads;

namespace Distributed.Benchmarks;

/// <summary>
/// Runs the selected workloads: first on this repository's cluster (one local cluster for all of
/// them, then the chaos runs on fresh clusters of their own), then, once those are stopped, on
/// dask.distributed, so the two never share the CPUs.
/// A workload that fails prints a line saying so and the others still run.
/// </summary>
internal static class BenchmarkRunner
{
    private delegate Task DistributedWorkload(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation);

    private static readonly IReadOnlyList<(string Name, DistributedWorkload Run)> DistributedWorkloads =
    [
        (Workload.Map, MapThroughput.RunAsync),
        (Workload.RoundTrip, RoundTrip.RunAsync),
        (Workload.Transfer, Transfer.RunAsync),
        (Workload.Handoff, Handoff.RunAsync),
        (Workload.Graph, GraphThroughput.RunAsync),
        (Workload.ArraySum, ArraySum.RunAsync),
        (Workload.WordCount, WordCount.RunAsync),
        (Workload.CsvGroupBy, CsvGroupBy.RunAsync),
        (Workload.Idle, IdleCpu.RunAsync),
    ];

    private delegate Task StandaloneWorkload(BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation);

    /// <summary>Workloads that start clusters of their own (the chaos runs kill workers), run once the shared cluster is stopped.</summary>
    private static readonly IReadOnlyList<(string Name, StandaloneWorkload Run)> StandaloneWorkloads =
    [
        (Workload.Chaos, Chaos.RunAsync),
        (Workload.Start, Start.RunAsync),
    ];

    public static async Task<int> RunAsync(BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var total = Stopwatch.StartNew();
        var failures = 0;
        var selected = DistributedWorkloads.Where(w => options.Runs(w.Name, SystemUnderTest.Distributed)).ToList();
        // With --tls both, the same workloads run on a cluster with TLS and then on one without, each
        // figure labelled, so that the cost of TLS is read from one run on one machine.
        if (selected.Count > 0)
            foreach (var tls in options.Tls)
                failures += await RunDistributedAsync(selected, options, tls, writer.Labelled("tls", tls ? "on" : "off"), cancellation);
        foreach (var (name, run) in StandaloneWorkloads.Where(w => options.Runs(w.Name, SystemUnderTest.Distributed)))
            failures += await RunStandaloneAsync(name, run, options, writer, cancellation);
        // a workload only the dask side has yet says so, rather than printing nothing
        foreach (var name in Workload.All.Where(n => options.Runs(n, SystemUnderTest.Distributed)
            && DistributedWorkloads.All(w => w.Name != n) && StandaloneWorkloads.All(w => w.Name != n)))
            writer.Write(new BenchmarkNotRun(name, SystemUnderTest.Distributed, "skipped", "no Distributed side of this workload yet; it runs on dask only."));
        if (options.Systems.Contains(SystemUnderTest.Dask))
            await DaskRunner.RunAsync(options, writer, cancellation);
        ResultWriter.Log($"done in {total.Elapsed.TotalSeconds:0} s");
        return failures == 0 ? 0 : 1;
    }

    private static async Task<int> RunStandaloneAsync(string name, StandaloneWorkload run, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        try
        {
            await run(options, writer, cancellation);
            return 0;
        }
        catch (NotSupportedException e)
        {
            writer.Write(new BenchmarkNotRun(name, SystemUnderTest.Distributed, "skipped", e.Message));
            return 0;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ResultWriter.Log($"{name} failed: {e}");
            writer.Write(new BenchmarkNotRun(name, SystemUnderTest.Distributed, "failed", $"{e.GetType().Name}: {e.Message}"));
            return 1;
        }
    }

    private static async Task<int> RunDistributedAsync(List<(string Name, DistributedWorkload Run)> workloads, BenchmarkOptions options, bool tls, ResultWriter writer,
        CancellationToken cancellation)
    {
        ResultWriter.Log($"starting a local cluster of {options.Workers} workers × 1 thread, TLS {(tls ? "on" : "off")}");
        DistributedSession session;
        try
        {
            session = await DistributedSession.StartAsync(options.Workers, tls, cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            foreach (var (name, _) in workloads) writer.Write(new BenchmarkNotRun(name, SystemUnderTest.Distributed, "failed", $"cluster did not start: {e.Message}"));
            return workloads.Count;
        }

        var failures = 0;
        await using (session)
        {
            foreach (var (name, run) in workloads)
            {
                try
                {
                    await run(session, options, writer, cancellation);
                }
                catch (NotSupportedException e)
                {
                    writer.Write(new BenchmarkNotRun(name, SystemUnderTest.Distributed, "skipped", e.Message));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    ResultWriter.Log($"{name} failed: {e}");
                    writer.Write(new BenchmarkNotRun(name, SystemUnderTest.Distributed, "failed", $"{e.GetType().Name}: {e.Message}"));
                    failures++;
                }
            }
            ResultWriter.Log("stopping the local cluster");
        }
        return failures;
    }
}

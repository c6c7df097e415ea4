using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Graceful retirement with real processes: a worker stopped by SIGTERM, one retired by
/// <see cref="Pool.RetireWorkersAsync"/>, and the workers of a <c>dworker --nworkers</c> supervisor
/// stopped by SIGTERM hand their values to the workers that remain before they exit: every value is
/// still gettable, and none was computed again (each task leaves a marker file per run).
/// </summary>
[ProcessTier]
public sealed class RetirementTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);
    private const int SigTerm = 15;

    [Fact]
    public async Task A_worker_stopped_by_SIGTERM_or_retired_by_the_pool_hands_its_values_over_and_nothing_is_computed_again()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 3, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var runs = Directory.CreateTempSubdirectory("distributed-retirement-");
        try
        {
            var values = await MapCountingRunsAsync(pool, runs.FullName, 60);
            var names = cluster.Workers.Select(WorkerName).ToList();
            var held = pool.HasWhat();
            Assert.True(held[names[0]].Count > 0 && held[names[1]].Count > 0, $"the Map left nothing on a worker: {Describe(held)}");

            // SIGTERM: the worker asks the center to retire it, and exits once the others hold its values.
            Assert.Equal(0, cluster.Workers[0].Signal(SigTerm));
            await cluster.Workers[0].WaitForExitAsync(new CancellationTokenSource(Slow).Token);
            Assert.Equal(0, cluster.Workers[0].ExitCode);
            await Eventually.TrueAsync(() => !pool.Workers().Any(w => w.Name == names[0]), () => $"{names[0]} is still listed", Slow);
            Assert.Equal(Enumerable.Range(0, 60).Select(x => x * 10), await pool.GatherAsync(values));
            AssertEachRanOnce(runs, 60);
            Assert.Contains(cluster.Workers[0].Output, l => l.Contains("its values are on other workers", StringComparison.Ordinal));

            // The pool's call: the same, and the worker's process ends by itself.
            await pool.RetireWorkersAsync([names[1]]);
            await cluster.Workers[1].WaitForExitAsync(new CancellationTokenSource(Slow).Token);
            Assert.Equal(0, cluster.Workers[1].ExitCode);
            Assert.Equal(Enumerable.Range(0, 60).Select(x => x * 10), await pool.GatherAsync(values));
            Assert.Equal(60, pool.HasWhat()[names[2]].Count);
            AssertEachRanOnce(runs, 60);
            // The last worker is not the pool's to retire: its values would have nowhere to go.
            var last = await Assert.ThrowsAsync<InvalidOperationException>(() => pool.RetireWorkersAsync([names[2]]));
            Assert.Contains("No worker would remain", last.Message);
            Assert.False(cluster.Workers[2].HasExited);
        }
        finally
        {
            runs.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task The_supervisors_SIGTERM_retires_its_workers_when_another_worker_remains()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        var supervisor = ClusterProcess.Start(AppContext.BaseDirectory, "dworker", [cluster.Address, "--nworkers", "2", "--nthreads", "1", "--name", "supervised"],
            cluster.ClientEnvironment);
        var runs = Directory.CreateTempSubdirectory("distributed-retirement-");
        try
        {
            await using var pool = await cluster.ConnectAsync();
            await Eventually.TrueAsync(() => pool.Workers().Count == 3, () => $"workers: {string.Join(", ", pool.Workers().Select(w => w.Name))}\n{string.Join("\n", supervisor.Output)}", Slow);
            var futures = SubmitCountingRuns(pool, runs.FullName, 40, new TaskOptions { Workers = ["supervised-1", "supervised-2"] });
            await Futures.WaitAsync(futures);
            var held = pool.HasWhat();
            Assert.Equal(40, held["supervised-1"].Count + held["supervised-2"].Count);

            Assert.Equal(0, supervisor.Signal(SigTerm));
            await supervisor.WaitForExitAsync(new CancellationTokenSource(Slow).Token);
            Assert.Equal(0, supervisor.ExitCode);
            // Bounded: a lost value of a task pinned to the supervised workers would wait for them for ever.
            using var limit = new CancellationTokenSource(Slow);
            Assert.Equal(Enumerable.Range(0, 40).Select(x => x * 10), await pool.GatherAsync(futures, limit.Token));
            Assert.Equal(40, pool.HasWhat()[WorkerName(cluster.Workers[0])].Count);
            AssertEachRanOnce(runs, 40);
            Assert.Equal(2, supervisor.Output.Count(l => l.Contains("its values are on other workers", StringComparison.Ordinal)));
        }
        finally
        {
            if (!supervisor.HasExited) supervisor.Kill();
            runs.Delete(recursive: true);
        }
    }

    /// <summary>A Map of <paramref name="count"/> tasks, each of which leaves a line in its own file in <paramref name="runs"/> per run.</summary>
    private static Task<List<RemoteData<int>>> MapCountingRunsAsync(Pool pool, string runs, int count) =>
        pool.MapAsync(x =>
        {
            File.AppendAllText(Path.Combine(runs, $"run-{x}"), "x");
            return x * 10;
        }, Enumerable.Range(0, count));

    /// <summary>Like <see cref="MapCountingRunsAsync"/>, as futures placed by <paramref name="options"/> (a static method: the closure captures the folder only).</summary>
    private static List<RemoteData<int>> SubmitCountingRuns(Pool pool, string runs, int count, TaskOptions options) =>
        pool.SubmitMap(x =>
        {
            File.AppendAllText(Path.Combine(runs, $"run-{x}"), "x");
            return x * 10;
        }, Enumerable.Range(0, count), options);

    private static void AssertEachRanOnce(DirectoryInfo runs, int count)
    {
        var files = runs.GetFiles("run-*");
        Assert.Equal(count, files.Length);
        var again = files.Where(f => f.Length != 1).Select(f => f.Name).ToList();
        Assert.True(again.Count == 0, $"computed again: {string.Join(", ", again)}");
    }

    /// <summary>A LocalCluster worker's name: its address, as it announced it.</summary>
    private static string WorkerName(ClusterProcess worker) =>
        worker.Output.First(l => l.StartsWith("Start worker at:", StringComparison.Ordinal))["Start worker at:".Length..].Trim();

    private static string Describe(IReadOnlyDictionary<string, IReadOnlyList<string>> held) =>
        string.Join("; ", held.Select(h => $"{h.Key}: {h.Value.Count}"));
}

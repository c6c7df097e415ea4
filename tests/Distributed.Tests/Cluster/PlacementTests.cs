using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Placement the caller controls (issue 13), on real dworkers: <c>TaskOptions.Resources</c> against
/// <c>dworker --resources</c>, and <c>TaskOptions.Workers</c>.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class PlacementTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);
    private static readonly Dictionary<string, double> OneGpu = new() { ["GPU"] = 1 };

    /// <summary>When a task ran, by the machine's clock (every process of the cluster shares it).</summary>
    public sealed record Span(long StartTicks, long EndTicks);

    [Fact]
    public async Task Tasks_asking_for_a_gpu_all_run_on_the_worker_with_one_and_never_two_at_once()
    {
        // Two threads each: without the resource, two such tasks would run at once on either worker.
        await using var cluster = await LocalCluster.StartAsync(workers: 0, threadsPerWorker: 2);
        await cluster.AddWorkerAsync(CancellationToken.None, "--name", "gpu", "--resources", "GPU=1");
        await cluster.AddWorkerAsync(CancellationToken.None, "--name", "plain");
        await using var pool = await cluster.ConnectAsync();

        var workers = pool.Workers();
        Assert.Equal(OneGpu, workers.Single(w => w.Name == "gpu").Resources);
        Assert.Null(workers.Single(w => w.Name == "plain").Resources);

        var futures = pool.SubmitMap(i =>
        {
            var start = DateTime.UtcNow.Ticks;
            Thread.Sleep(300);
            return new Span(start, DateTime.UtcNow.Ticks);
        }, Enumerable.Range(0, 6), new TaskOptions { Resources = OneGpu });
        var spans = await pool.GatherAsync(futures).WaitAsync(Slow);

        Assert.All(futures, f => Assert.Equal("gpu", f.Location!.Worker));
        var ordered = spans.OrderBy(s => s.StartTicks).ToList();
        for (var i = 1; i < ordered.Count; i++)
            Assert.True(ordered[i].StartTicks >= ordered[i - 1].EndTicks,
                $"two GPU tasks ran at once: one from {ordered[i - 1].StartTicks} to {ordered[i - 1].EndTicks}, the next from {ordered[i].StartTicks}");
        // Unrestricted work still uses both workers.
        var free = await pool.MapAsync(x => { Thread.Sleep(50); return x; }, Enumerable.Range(0, 40)).WaitAsync(Slow);
        Assert.Equal(2, free.Select(f => f.Location!.Worker).Distinct().Count());
    }

    [Fact]
    public async Task Workers_pins_tasks_to_the_named_worker_or_address()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 0, threadsPerWorker: 1);
        await cluster.AddWorkerAsync(CancellationToken.None, "--name", "a");
        await cluster.AddWorkerAsync(CancellationToken.None, "--name", "b");
        await using var pool = await cluster.ConnectAsync();
        var addressOfB = pool.Workers().Single(w => w.Name == "b").Address;

        var onA = pool.SubmitMap(x => { Thread.Sleep(20); return x * 2; }, Enumerable.Range(0, 30), new TaskOptions { Workers = ["a"] });
        var onB = pool.SubmitMap(x => { Thread.Sleep(20); return x * 3; }, Enumerable.Range(0, 30), new TaskOptions { Workers = [addressOfB] });
        var single = pool.Submit(() => 7, new TaskOptions { Workers = ["b"] });

        Assert.Equal(Enumerable.Range(0, 30).Select(x => x * 2), await pool.GatherAsync(onA).WaitAsync(Slow));
        Assert.Equal(Enumerable.Range(0, 30).Select(x => x * 3), await pool.GatherAsync(onB).WaitAsync(Slow));
        Assert.Equal(7, await single.GetAsync().WaitAsync(Slow));
        Assert.All(onA, f => Assert.Equal("a", f.Location!.Worker));
        Assert.All(onB, f => Assert.Equal("b", f.Location!.Worker));
        Assert.Equal("b", single.Location!.Worker);

        // A graph's tasks too (by the graph's order its first input would go to a).
        Func<int, int> inc = x => x + 1;
        Func<int, int, int> add = (x, y) => x + y;
        var graph = new Distributed.Dask.Graph { ["x"] = (inc, 1), ["y"] = (inc, "x"), ["z"] = (add, "x", "y") };
        var outputs = pool.SubmitGraph(graph, ["y", "z"], new TaskOptions { Workers = ["b"] }).Cast<RemoteData<object>>().ToList();
        Assert.Equal([3, 5], (await Task.WhenAll(outputs.Select(o => o.GetAsync()))).Select(Convert.ToInt32));
        Assert.All(outputs, o => Assert.Equal("b", o.Location!.Worker));
    }

    [Fact]
    public async Task A_task_needing_a_gpu_waits_while_no_worker_has_one_and_runs_when_one_joins()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();

        var onGpu = pool.Submit(() => 42, new TaskOptions { Resources = OneGpu });
        // The center says why it waits; the plain worker goes on with other work meanwhile.
        await cluster.Center.WaitForLineAsync(l => l.Contains("waits: no registered worker offers GPU=1", StringComparison.Ordinal), Slow);
        var other = await pool.MapAsync(x => x + 1, Enumerable.Range(0, 10)).WaitAsync(Slow);
        Assert.Equal(Enumerable.Range(1, 10), await pool.GatherAsync(other));
        Assert.Equal(FutureStatus.Pending, onGpu.Status);

        await cluster.AddWorkerAsync(CancellationToken.None, "--name", "gpu", "--resources", "GPU=1");

        Assert.Equal(42, await onGpu.GetAsync().WaitAsync(Slow));
        Assert.Equal("gpu", onGpu.Location!.Worker);
    }
}

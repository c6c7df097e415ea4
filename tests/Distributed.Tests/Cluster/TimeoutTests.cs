using Distributed.Dask;
using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Per-task timeouts: a stuck task fails naming its key, its executor process is killed and the
/// worker gets a fresh one, the tasks beside it are not failed; and the cancellation of a graph's
/// <c>GetAsync</c>. Each test starts its own small cluster, since stuck tasks would hold a shared
/// one's threads; they kill executor processes, so they run with the other process-killing tests.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class TimeoutTests : IDisposable
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    /// <summary>Marker files written by the user functions (the workers run on this machine).</summary>
    private readonly DirectoryInfo _markers = Directory.CreateTempSubdirectory("distributed-timeout-");

    public void Dispose() => _markers.Delete(recursive: true);

    [Fact]
    public async Task A_task_past_its_timeout_fails_naming_its_key_and_its_worker_gets_the_executor_back_each_time()
    {
        // One worker with one thread: were the stuck thread not taken back, nothing could run after it.
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var worker = Assert.Single(pool.Workers()).Name;
        Func<int, int> stuckOnThree = x =>
        {
            if (x == 3) Thread.Sleep(Timeout.Infinite);
            return x * 10;
        };

        var failure = await Assert.ThrowsAsync<TaskTimeoutException>(
            () => pool.MapAsync(stuckOnThree, Enumerable.Range(0, 6), timeout: TimeSpan.FromSeconds(2)).WaitAsync(Slow));

        Assert.EndsWith("-3", failure.Key);
        Assert.Contains(failure.Key, failure.Message);
        Assert.Contains("2 s", failure.Message);
        Assert.Equal(TimeSpan.FromSeconds(2), failure.Timeout);
        Assert.Equal(worker, failure.Worker);
        var apply = await Assert.ThrowsAsync<TaskTimeoutException>(() => pool.ApplyAsync(stuckOnThree, 3, timeout: TimeSpan.FromMilliseconds(1500)).WaitAsync(Slow));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), apply.Timeout);
        Assert.Contains("1500 ms", apply.Message);
        var after = await pool.MapAsync(x => x + 1, Enumerable.Range(0, 20)).WaitAsync(Slow);
        Assert.Equal(Enumerable.Range(1, 20), await pool.GatherAsync(after));
        Assert.Equal(worker, Assert.Single(pool.Workers()).Name); // the same worker: it did not die for it
    }

    [Fact]
    public async Task Time_spent_waiting_for_a_thread_does_not_count_towards_the_timeout()
    {
        // One thread, five tasks of 1 s each under a 3 s timeout: the last ones wait 4 s for the thread
        // and would time out if the clock started when the worker handed them to the executor.
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        Func<int, int> oneSecond = x =>
        {
            Thread.Sleep(1_000);
            return x * 2;
        };

        var results = await pool.MapAsync(oneSecond, Enumerable.Range(0, 5), timeout: TimeSpan.FromSeconds(3)).WaitAsync(Slow);

        Assert.Equal([0, 2, 4, 6, 8], await pool.GatherAsync(results));
    }

    [Fact]
    public async Task Tasks_running_beside_a_timed_out_one_run_again_on_a_new_executor_instead_of_failing()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        var stuckProcess = Path.Combine(_markers.FullName, "stuck-process");
        var besideInStuckProcess = Path.Combine(_markers.FullName, "beside-in-stuck-process");
        var (stuck, beside) = StuckAndBeside(stuckProcess, besideInStuckProcess);

        var timingOut = pool.MapAsync(stuck, [0], timeout: TimeSpan.FromSeconds(5));
        await Eventually.TrueAsync(() => File.Exists(stuckProcess) && File.ReadAllText(stuckProcess).Length > 0, () => "the stuck task did not start");
        var running = pool.MapAsync(beside, [1, 2]);

        await Assert.ThrowsAsync<TaskTimeoutException>(() => timingOut.WaitAsync(Slow));
        Assert.Equal([101, 102], await pool.GatherAsync(await running.WaitAsync(Slow)));
        Assert.True(File.Exists(besideInStuckProcess), "no task ran beside the stuck one in its process: the test proved nothing");
    }

    [Fact]
    public async Task A_graph_task_past_its_timeout_fails_the_get_naming_its_key_and_its_dependents_never_run()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        var dependentRan = Path.Combine(_markers.FullName, "dependent-ran");
        Func<int, int> stuck = x =>
        {
            Thread.Sleep(Timeout.Infinite);
            return x;
        };
        var dependent = NotingThatItRan(dependentRan);
        Func<int, int, int> add = (a, b) => a + b;
        Func<int, int> inc = x => x + 1;
        var dsk = new Graph { ["stuck"] = (stuck, 1), ["side"] = (inc, 2), ["after"] = (dependent, "stuck"), ["total"] = (add, "after", "side") };
        using var scheduler = ClusterScheduler.On(pool, taskTimeout: TimeSpan.FromSeconds(2));

        var failure = await Assert.ThrowsAsync<TaskTimeoutException>(() => scheduler.GetAsync(dsk, "total").WaitAsync(Slow));

        Assert.Equal("stuck", failure.Key);
        Assert.Contains("stuck", failure.Message);
        await Eventually.TrueAsync(() => pool.HasWhat().Values.All(keys => keys.Count == 0),
            () => $"keys of the failed graph still held: {string.Join(", ", pool.HasWhat().Values.SelectMany(k => k))}");
        Assert.Equal(4, scheduler.Get(new Graph { ["a"] = 2, ["b"] = (inc, "a"), ["c"] = (inc, "b") }, "c"));
        Assert.False(File.Exists(dependentRan), "a task that reads the timed-out one ran");
    }

    [Fact]
    public async Task Cancelling_a_graph_get_drops_its_queued_tasks_and_frees_its_results()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        Func<int, int> slow = x =>
        {
            Thread.Sleep(50);
            return x;
        };
        var dsk = new Graph();
        var keys = new List<string>();
        for (var i = 0; i < 400; i++)
        {
            dsk[$"slow-{i}"] = (slow, i);
            keys.Add($"slow-{i}");
        }
        using var scheduler = ClusterScheduler.On(pool);
        using var cancel = new CancellationTokenSource();

        var running = scheduler.GetAsync(dsk, keys, cancel.Token);
        await Eventually.TrueAsync(() => pool.HasWhat().Values.SelectMany(k => k).Any(k => k.StartsWith("slow-", StringComparison.Ordinal)),
            () => "no result of the graph appeared");
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running.WaitAsync(Slow));
        await Eventually.TrueAsync(() => !pool.HasWhat().Values.SelectMany(k => k).Any(k => k.StartsWith("slow-", StringComparison.Ordinal)),
            () => $"results of the cancelled graph are still held: {pool.HasWhat().Values.SelectMany(k => k).Count(k => k.StartsWith("slow-", StringComparison.Ordinal))}");
        // Had its 400 × 50 ms tasks stayed queued, this would wait behind them; it must be right either way.
        Func<int, int> inc = x => x + 1;
        Assert.Equal(3, scheduler.Get(new Graph { ["one"] = 1, ["two"] = (inc, "one"), ["three"] = (inc, "two") }, "three"));
    }

    [Fact]
    public async Task A_timeout_that_is_not_positive_is_refused_naming_the_parameter()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        Func<int, int> inc = x => x + 1;
        var dsk = new Graph { ["a"] = (inc, 1) };

        var zero = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Map(inc, [1, 2], timeout: TimeSpan.Zero));
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => { _ = pool.MapAsync(inc, [1, 2], timeout: TimeSpan.FromSeconds(-1)); }); // at the call, not in the task
        var onRemote = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Map(inc, pool.Map(inc, [1]), timeout: TimeSpan.FromMilliseconds(-5)));
        var apply = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Apply(inc, 1, timeout: TimeSpan.Zero));
        var graph = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pool.GetGraphAsync(dsk, "a", taskTimeout: TimeSpan.Zero));
        var scheduler = Assert.Throws<ArgumentOutOfRangeException>(() => ClusterScheduler.On(pool, taskTimeout: TimeSpan.FromSeconds(-2)));
        var partial = Assert.Throws<ArgumentOutOfRangeException>(() => Scheduler.Partial("127.0.0.1", 1, taskTimeout: TimeSpan.Zero));

        Assert.All([zero, negative, onRemote, apply], e => Assert.Equal("timeout", e.ParamName));
        Assert.All([graph, scheduler, partial], e => Assert.Equal("taskTimeout", e.ParamName));
        Assert.Contains("positive", zero.Message);
        // Null and Timeout.InfiniteTimeSpan mean no limit.
        Assert.Equal([2, 3], pool.Gather(pool.Map(inc, [1, 2], timeout: null)));
        Assert.Equal([2, 3], pool.Gather(pool.Map(inc, [1, 2], timeout: Timeout.InfiniteTimeSpan)));
    }
    /// <summary>A function that leaves a file behind when it runs (made here so that it captures the path only).</summary>
    private static Func<int, int> NotingThatItRan(string marker) => x =>
    {
        File.WriteAllText(marker, "");
        return x + 1;
    };

    /// <summary>
    /// A task that gets stuck, noting its process, and one that in that process runs until the process
    /// is killed and anywhere else returns at once: it finishes only if it is run again after the kill.
    /// (Made here so that the closures hold the two paths only, not the test's tasks.)
    /// </summary>
    private static (Func<int, int> Stuck, Func<int, int> Beside) StuckAndBeside(string stuckProcess, string besideInStuckProcess)
    {
        Func<int, int> stuck = x =>
        {
            File.WriteAllText(stuckProcess, Environment.ProcessId.ToString());
            Thread.Sleep(Timeout.Infinite);
            return x;
        };
        Func<int, int> beside = x =>
        {
            if (File.ReadAllText(stuckProcess) == Environment.ProcessId.ToString())
            {
                File.WriteAllText(besideInStuckProcess, "");
                Thread.Sleep(Timeout.Infinite);
            }
            return x + 100;
        };
        return (stuck, beside);
    }
}

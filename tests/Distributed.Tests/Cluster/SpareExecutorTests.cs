using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A worker keeps one executor process started and warmed up before any code needs it: a new worker's
/// first tasks, and the tasks re-run after a timeout killed their executor, take it instead of waiting
/// for a process to start. Its code (the client's assemblies) reaches it after it started.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class SpareExecutorTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    /// <summary>A type of this test assembly: the spare can only read it once it has the client's code.</summary>
    public sealed record Point(int X, int Y);

    [Fact]
    public async Task A_new_workers_first_tasks_run_on_its_spare_executor_with_the_clients_code_and_a_new_spare_follows()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var shift = 7; // captured: the function is a closure of this assembly

        var points = await pool.MapAsync((int x) => new Point(x, x + shift), Enumerable.Range(0, 10)).WaitAsync(Slow);

        Assert.Equal(Enumerable.Range(0, 10).Select(x => new Point(x, x + 7)), await pool.GatherAsync(points));
        var stats = (await pool.TransferStatsAsync()).Values.Single();
        Assert.Equal(1, stats.SpareExecutorsTaken);
        // The spare was the only executor started for them; another spare follows for the next code.
        await Eventually.TrueAsync(() => Stats(pool).ExecutorsStarted == 2, () => $"executors started: {Stats(pool).ExecutorsStarted}, expected the taken spare and a new one");
        var sums = await pool.MapAsync((Point p) => p.X + p.Y, points).WaitAsync(Slow);
        Assert.Equal(Enumerable.Range(0, 10).Select(x => 2 * x + 7), await pool.GatherAsync(sums));
        Assert.Equal(2, Stats(pool).ExecutorsStarted); // the same code: no other executor
    }

    [Fact]
    public async Task After_a_timeout_kills_an_executor_its_other_tasks_run_again_on_the_spare()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        Func<int, int> stuckOnThree = x =>
        {
            if (x == 3) Thread.Sleep(Timeout.Infinite);
            Thread.Sleep(1_000); // the other thread is still busy with these at the timeout
            return x * 10;
        };
        Assert.Equal([1], await pool.GatherAsync(await pool.MapAsync((int x) => x + 1, [0]).WaitAsync(Slow)));
        await Eventually.TrueAsync(() => Stats(pool).ExecutorsStarted == 2, () => $"executors started: {Stats(pool).ExecutorsStarted}, expected a new spare after the first was taken");

        await Assert.ThrowsAsync<TaskTimeoutException>(() => pool.MapAsync(stuckOnThree, Enumerable.Range(0, 8), timeout: TimeSpan.FromSeconds(2)).WaitAsync(Slow));

        await Eventually.TrueAsync(() => Stats(pool).SpareExecutorsTaken == 2, () => $"spares taken: {Stats(pool).SpareExecutorsTaken}, expected the first and the one the re-run took");
        var after = await pool.MapAsync(x => x + 1, Enumerable.Range(0, 20)).WaitAsync(Slow);
        Assert.Equal(Enumerable.Range(1, 20), await pool.GatherAsync(after));
    }

    private static Distributed.Data.WorkerTransferStats Stats(Pool pool) => pool.TransferStatsAsync().GetAwaiter().GetResult().Values.Single();
}

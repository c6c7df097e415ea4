using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A single task goes straight to a worker that has its code (one hop, its small result in the answer),
/// with real dcenter and dworker processes: the results are right, the center records every such task
/// (its values are released and remade like any other), a failure is the caller's exception, and a
/// worker killed while it runs one costs nothing but time.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class DirectTaskTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Applies_go_straight_to_the_workers_and_the_center_records_each_as_any_task()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        await WarmUpAsync(pool);
        var before = await TakenDirectlyAsync(pool);

        var results = new List<RemoteData<int>>();
        for (var i = 0; i < 200; i++) results.Add(pool.Apply(x => x + 1, i));

        Assert.Equal(Enumerable.Range(1, 200), results.Select(r => r.Get()));
        Assert.Equal(Enumerable.Range(1, 200), await pool.GatherAsync(results));
        // Most went directly (one that found its worker busy went through the center), on both workers.
        var taken = (await TakenDirectlyAsync(pool)).ToDictionary(p => p.Key, p => p.Value - before[p.Key]);
        Assert.True(taken.Values.Sum() >= 150, $"taken directly: {string.Join(", ", taken)}");
        Assert.All(taken.Values, count => Assert.True(count > 0, $"taken directly: {string.Join(", ", taken)}"));

        // The center knows every one of them: each is held where it ran, and used as an input through the center.
        await Eventually.TrueAsync(() => pool.HasWhat().Values.Sum(keys => keys.Count(k => results.Any(r => r.Key == k))) == 200,
            () => $"the center lists {pool.HasWhat().Values.Sum(keys => keys.Count(k => results.Any(r => r.Key == k)))} of 200");
        Assert.Equal(Enumerable.Range(1, 200).Sum(), pool.Apply((IReadOnlyList<int> all) => all.Sum(), results).Get());

        // Released, they leave the workers as any value does.
        pool.Release(results);
        await Eventually.TrueAsync(() => pool.HasWhat().Values.All(keys => !keys.Any(k => results.Any(r => r.Key == k))), () => "released values are still held");
    }

    [Fact]
    public async Task A_task_that_fails_on_its_worker_throws_its_exception_and_the_next_still_runs_directly()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        await WarmUpAsync(pool);
        var before = (await TakenDirectlyAsync(pool)).Values.Sum();

        var error = Assert.Throws<RemoteTaskException>(() => pool.Apply(x => x > 0 ? throw new InvalidOperationException($"no {x}") : x, 5));
        Assert.Contains("no 5", error.Message);
        Assert.Equal(8, pool.Apply(x => x * 2, 4).Get());
        Assert.Equal(before + 2, (await TakenDirectlyAsync(pool)).Values.Sum());
    }

    [SkippableFact]
    public async Task A_large_result_of_a_task_taken_directly_comes_back_through_shared_memory()
    {
        Skip.IfNot(Distributed.Data.SharedSegment.IsSupported, "shared segments need Linux");
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        await WarmUpAsync(pool);
        var before = (await pool.TransferStatsAsync()).Values.Single();

        // 4 MB: past the size from which an executor writes its result into a segment its worker lends.
        var result = pool.Apply(n => Enumerable.Range(0, n).Select(i => (double)i).ToArray(), 500_000);
        var values = await result.GetAsync().WaitAsync(Slow);
        Assert.Equal(500_000, values.Length);
        Assert.Equal(499_999.0, values[^1]);
        var after = (await pool.TransferStatsAsync()).Values.Single();
        Assert.Equal(before.TasksTakenDirectly + 1, after.TasksTakenDirectly);
        Assert.True(after.ResultBytesShared - before.ResultBytesShared >= 4_000_000, $"{after.ResultBytesShared - before.ResultBytesShared} result bytes shared");
    }

    [Fact]
    public async Task A_worker_killed_while_it_runs_a_task_taken_directly_costs_nothing_but_time()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        await WarmUpAsync(pool);
        var before = await TakenDirectlyAsync(pool);

        var running = pool.ApplyAsync(x => { Thread.Sleep(3_000); return x * 3; }, 14);
        string? victim = null;
        await Eventually.TrueAsync(() =>
        {
            victim = TakenDirectlyAsync(pool).GetAwaiter().GetResult().FirstOrDefault(p => p.Value > before[p.Key]).Key;
            return victim is not null;
        }, () => "no worker took the task directly", Slow);
        WorkerDeathTests.ProcessOf(cluster, pool, victim!).Kill();

        var result = await running.WaitAsync(Slow);
        Assert.Equal(42, await result.GetAsync());
        Assert.NotEqual(victim, result.Location?.Worker);
    }

    /// <summary>A small Map on every worker: each then runs this test class's code, and the pool knows them all.</summary>
    private static Task WarmUpAsync(Pool pool)
    {
        var workers = pool.Workers().Count;
        return Eventually.TrueAsync(() =>
        {
            var ran = pool.Map(x => x, Enumerable.Range(0, 20 * workers));
            return ran.Select(r => r.Location?.Worker).Distinct().Count() == workers;
        }, () => "the warm-up did not reach every worker", Slow);
    }

    private static async Task<Dictionary<string, long>> TakenDirectlyAsync(Pool pool) =>
        (await pool.TransferStatsAsync()).ToDictionary(p => p.Key, p => p.Value.TasksTakenDirectly);
}

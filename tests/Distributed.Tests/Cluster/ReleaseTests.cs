using System.Runtime.CompilerServices;

namespace Distributed.Tests.Cluster;

[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class ReleaseTests(LocalClusterFixture fixture)
{
    private Pool Pool => fixture.Pool;

    [Fact]
    public async Task A_failed_map_leaves_none_of_its_results_on_the_workers()
    {
        var failure = Assert.Throws<RemoteTaskException>(() =>
            Pool.Map(x => x == 3 ? throw new InvalidOperationException("three") : x, Enumerable.Range(0, 50)));
        var prefix = failure.Key[..failure.Key.LastIndexOf('-')];

        await Eventually.TrueAsync(() => !Pool.HasWhat().Values.SelectMany(keys => keys).Any(k => k.StartsWith(prefix)),
            () => $"keys of {prefix} still held: {string.Join(", ", Pool.HasWhat().Values.SelectMany(k => k).Where(k => k.StartsWith(prefix)))}");
    }

    [Fact]
    public async Task Released_values_are_deleted_from_the_workers()
    {
        var data = Pool.Map(x => x * 2, Enumerable.Range(0, 10));
        Assert.All(data, d => Assert.NotEmpty(Pool.WhoHas(d)));

        Pool.Release(data);

        await Eventually.TrueAsync(() => data.All(d => Pool.WhoHas(d).Count == 0), () => "the center still lists holders");
        await Assert.ThrowsAsync<DataLostException>(() => data[0].GetAsync());
    }

    [Fact]
    public async Task Values_the_program_drops_are_released_once_collected()
    {
        var keys = MapAndDrop(Pool); // made, stored, and no longer reachable from here
        Assert.Equal(20, keys.Count);

        await Eventually.TrueAsync(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return !Pool.HasWhat().Values.SelectMany(held => held).Intersect(keys).Any();
        }, () => "values no longer reachable from the program are still held");
    }

    [Fact]
    public async Task Inputs_dropped_by_the_program_stay_until_the_tasks_that_read_them_have_run()
    {
        var running = Pool.MapAsync(x => { Thread.Sleep(50); return x * 2; }, MapOnly(Pool));
        while (!running.IsCompleted)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.WhenAny(running, Task.Delay(100));
        }

        Assert.Equal(Enumerable.Range(0, 40).Select(x => (x + 1) * 2), Pool.Gather(await running));
    }

    [Fact]
    public async Task Cancelling_a_map_drops_its_queued_tasks_and_frees_its_results()
    {
        using var cancel = new CancellationTokenSource();
        Func<int, int> slow = x => { Thread.Sleep(50); return x; };
        var running = Pool.MapAsync(slow, Enumerable.Range(0, 400), cancel.Token);
        var first = "";
        await Eventually.TrueAsync(() =>
        {
            first = Pool.HasWhat().Values.SelectMany(k => k).FirstOrDefault(k => k.Contains("cancelling", StringComparison.Ordinal)) ?? "";
            return first.Length > 0;
        }, () => "no result of the map appeared");

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        var prefix = first[..first.LastIndexOf('-')];
        await Eventually.TrueAsync(() => !Pool.HasWhat().Values.SelectMany(k => k).Any(k => k.StartsWith(prefix, StringComparison.Ordinal)),
            () => $"results of the cancelled map are still held: {Pool.HasWhat().Values.SelectMany(k => k).Count(k => k.StartsWith(prefix, StringComparison.Ordinal))}");
        // Had its 400 × 50 ms tasks stayed queued, this would wait behind them; it must not fail either way.
        Assert.Equal([1, 2, 3], Pool.Gather(Pool.Map(x => x + 1, new[] { 0, 1, 2 })));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<string> MapAndDrop(Pool pool) => pool.Map(x => x + 7, Enumerable.Range(0, 20)).Select(r => r.Key).ToList();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<RemoteData<int>> MapOnly(Pool pool) => pool.Map(x => x + 1, Enumerable.Range(0, 40));
}

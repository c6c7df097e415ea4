using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A client program killed in the middle of a computation (a real process, started from
/// Distributed.TestClient): the center drops its queued tasks and releases its data; other clients
/// are untouched.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class LostClientTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);
    private const int ItsMapTasks = 2_000;

    [Fact]
    public async Task A_killed_client_has_its_queued_tasks_dropped_and_its_data_released_while_another_client_goes_on()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 2);
        await using var pool = await cluster.ConnectAsync();
        var mine = pool.Map(x => x + 1, Enumerable.Range(0, 100));
        var myKeys = mine.Select(m => m.Key).ToHashSet();
        var markers = Directory.CreateTempSubdirectory("distributed-lost-client-");
        var client = ClusterProcess.Start(AppContext.BaseDirectory, "Distributed.TestClient", [cluster.Address, markers.FullName], cluster.ClientEnvironment);
        try
        {
            var held = (await client.WaitForLineAsync(l => l.StartsWith("HELD ", StringComparison.Ordinal), Slow))["HELD ".Length..].Split(',');
            await client.WaitForLineAsync(l => l == "RUNNING", Slow);
            // Another client's keys are not listed to this pool; the workers' key counts show them.
            Assert.DoesNotContain(held[0], pool.HasWhat().SelectMany(h => h.Value));
            Assert.True(HeldKeys(pool) > myKeys.Count, $"the workers hold {HeldKeys(pool)} keys, only this pool's {myKeys.Count}");
            await Eventually.TrueAsync(() => StartedTasks(markers) >= 8, () => "the client's long Map did not start", Slow);

            client.Kill();

            await Eventually.TrueAsync(() => HeldKeys(pool) == myKeys.Count,
                () => $"the killed client's keys are still held: the workers hold {HeldKeys(pool)} keys, this pool {myKeys.Count}", Slow);
            // Its queued tasks were dropped where they waited: those sent ahead to the workers are
            // cancelled there, and the rest, at the center, never go out. This Map's tasks would
            // queue behind them otherwise, and all 2,000 of 100 ms would have started by its end.
            await Eventually.TrueAsync(() => CancelledOnWorkers(pool) > 0, () => "no task was cancelled on the workers", Slow);
            var after = pool.Map(x => x * 2, Enumerable.Range(0, 200));
            Assert.Equal(Enumerable.Range(0, 200).Select(x => x * 2), pool.Gather(after));
            Assert.True(StartedTasks(markers) < ItsMapTasks / 2, $"{StartedTasks(markers)} of the killed client's {ItsMapTasks} tasks ran");
            Assert.Equal(myKeys.Count + after.Count, HeldKeys(pool));
            Assert.Equal(Enumerable.Range(1, 100), pool.Gather(mine));
        }
        finally
        {
            if (!client.HasExited) client.Kill();
            markers.Delete(recursive: true);
        }
    }

    private static int StartedTasks(DirectoryInfo markers) => markers.GetFiles("task-*").Length;

    private static long CancelledOnWorkers(Pool pool) =>
        pool.TransferStatsAsync().GetAwaiter().GetResult().Values.Sum(s => s.CancelledBeforeStart);

    /// <summary>Keys the workers hold, every client's.</summary>
    private static int HeldKeys(Pool pool) => pool.Workers().Sum(w => w.KeyCount);
}

using Distributed.Hosting;
using Distributed.Protocol;

namespace Distributed.Tests.Cluster;

/// <summary>
/// The center killed (SIGKILL) and started again at the same address: the workers keep their data,
/// rejoin and report it, the client reconnects and its RemoteData stay valid; computations in flight
/// fail with <see cref="CenterRestartedException"/>; a re-reported value has no lineage, so it is lost
/// for good with its worker, and says so.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class CenterRestartTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task After_a_center_restart_the_workers_report_their_keys_and_the_client_keeps_using_its_remote_data()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var squares = pool.Map(x => x * x, Enumerable.Range(0, 40));
        var before = pool.HasWhat();
        Assert.Equal(2, before.Count(h => h.Value.Count > 0));

        await cluster.RestartCenterAsync();

        await Eventually.TrueAsync(() => HeldKeyCount(pool) == 40, () => Describe(cluster, pool), Slow);
        var after = pool.HasWhat();
        foreach (var (worker, keys) in before) Assert.Equal(keys.Order(), after[worker].Order());
        Assert.Equal(2, pool.Workers().Count);
        Assert.Equal(Enumerable.Range(0, 40).Select(x => x * x), pool.Gather(squares));
        Assert.Equal(49, squares[7].Get());
        var negated = pool.Map(x => -x, squares);
        Assert.Equal(Enumerable.Range(0, 40).Select(x => -x * x), pool.Gather(negated));
    }

    [Fact]
    public async Task A_map_in_flight_when_the_center_is_killed_fails_with_CenterRestartedException_and_the_next_map_works()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var running = pool.MapAsync(x => { Thread.Sleep(50); return x; }, Enumerable.Range(0, 400));
        await Eventually.TrueAsync(() => HeldKeyCount(pool) > 0, () => "the map did not start", Slow);

        await cluster.RestartCenterAsync();

        var error = await Assert.ThrowsAsync<CenterRestartedException>(() => running.WaitAsync(Slow));
        Assert.Contains("lost during the computation", error.Message);
        var after = await pool.MapAsync(x => x + 1, Enumerable.Range(0, 10)).WaitAsync(Slow);
        Assert.Equal(Enumerable.Range(1, 10), await pool.GatherAsync(after).WaitAsync(Slow));
        // What the failed map had finished, kept by the workers across the restart, is deleted, not left behind.
        await Eventually.TrueAsync(() => HeldKeyCount(pool) == 10, () => Describe(cluster, pool), Slow);
    }

    [Fact]
    public async Task A_value_kept_across_a_center_restart_is_lost_for_good_with_its_worker_and_gather_says_so()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var squares = pool.Map(x => x * x, Enumerable.Range(0, 20));
        await cluster.RestartCenterAsync();
        await Eventually.TrueAsync(() => HeldKeyCount(pool) == 20, () => Describe(cluster, pool), Slow);
        var (victim, keys) = pool.HasWhat().First(h => h.Value.Count > 0);
        var lostIndex = squares.FindIndex(s => keys.Contains(s.Key));
        var keptIndex = squares.FindIndex(s => !keys.Contains(s.Key));
        Assert.True(keptIndex >= 0, "one worker holds every value");

        ProcessOf(cluster, pool, victim).Kill();
        await Eventually.TrueAsync(() => pool.Workers().All(w => w.Name != victim), () => $"{victim} is still listed", Slow);

        // Its values have no lineage on the new center: they cannot be made again, and nothing waits for that.
        var error = await Assert.ThrowsAsync<DataLostException>(() => pool.GatherAsync(squares).WaitAsync(Slow));
        Assert.Equal(squares[lostIndex].Key, error.Key);
        Assert.Contains($"lost with worker {victim}", error.Message);
        Assert.Contains("cannot be made again", error.Message);
        Assert.Equal(keptIndex * keptIndex, await squares[keptIndex].GetAsync().WaitAsync(Slow));
    }

    [Fact]
    public async Task A_value_whose_worker_died_while_the_center_was_down_is_lost_for_good_and_gather_says_so()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var squares = pool.Map(x => x * x, Enumerable.Range(0, 20));
        var (victim, keys) = pool.HasWhat().First(h => h.Value.Count > 0);
        var lostIndex = squares.FindIndex(s => keys.Contains(s.Key));
        var keptIndex = squares.FindIndex(s => !keys.Contains(s.Key));
        Assert.True(keptIndex >= 0, "one worker holds every value");
        var victimProcess = ProcessOf(cluster, pool, victim);

        // The new center never hears of that worker: it only sees the value claimed and never reported.
        await cluster.RestartCenterAsync(whileDown: async () =>
        {
            victimProcess.Kill();
            await victimProcess.WaitForExitAsync();
        });

        var error = await Assert.ThrowsAsync<DataLostException>(() => pool.GatherAsync(squares).WaitAsync(Slow));
        Assert.Contains(error.Key, squares.Where(s => keys.Contains(s.Key)).Select(s => s.Key));
        Assert.Contains("held by a worker that is no longer on the cluster", error.Message);
        Assert.Contains("cannot be made again", error.Message);
        Assert.Equal(keptIndex * keptIndex, await squares[keptIndex].GetAsync().WaitAsync(Slow));
        // A Map over it is refused with the same reason.
        var refused = await Assert.ThrowsAsync<RemoteTaskException>(() => pool.MapAsync(x => x + 1, [squares[lostIndex]]).WaitAsync(Slow));
        Assert.Contains("held by a worker that is no longer on the cluster", refused.Message);
    }

    private static ClusterProcess ProcessOf(LocalCluster cluster, Pool pool, string workerName)
    {
        var address = pool.Workers().Single(w => w.Name == workerName).Address;
        // Only its own start line: after a restart, the others' warnings name every member's address.
        return cluster.Workers.Single(w => w.Output.Any(line => line.StartsWith("Start worker at:", StringComparison.Ordinal) && line.EndsWith(" " + address, StringComparison.Ordinal)));
    }

    /// <summary>The keys the center knows, or -1 while the center cannot be asked.</summary>
    private static int HeldKeyCount(Pool pool)
    {
        try { return pool.HasWhat().Values.Sum(k => k.Count); }
        catch (Exception e) when (e is CenterUnreachableException or TimeoutException or Akka.Actor.AskTimeoutException) { return -1; }
    }

    private static string Describe(LocalCluster cluster, Pool pool)
    {
        var lines = new List<string> { $"keys held: {HeldKeyCount(pool)}", "--- center:" };
        lines.AddRange(cluster.Center.Output.TakeLast(30));
        foreach (var worker in cluster.Workers)
        {
            lines.Add($"--- worker {worker.Id} (exited: {worker.HasExited}):");
            lines.AddRange(worker.Output.TakeLast(30));
        }
        return string.Join(Environment.NewLine, lines);
    }
}

using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A scattered value has no lineage: when the only worker holding it dies, it is gone, and reading it
/// (or computing on it) says so, naming its key; a broadcast value survives on the other workers.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class ScatterWorkerDeathTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_scattered_value_lost_with_its_worker_is_a_data_lost_error_naming_its_key_and_a_broadcast_copy_survives()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var single = await pool.PutAsync(new[] { 1, 2, 3 }).WaitAsync(Slow);
        var everywhere = await pool.PutAsync(new[] { 4, 5, 6 }, broadcast: true).WaitAsync(Slow);
        var victim = pool.WhoHas(single).Single();
        var address = pool.Workers().Single(w => w.Name == victim).Address;

        cluster.Workers.Single(w => w.Output.Any(line => line.StartsWith("Start worker at:", StringComparison.Ordinal) && line.EndsWith(" " + address, StringComparison.Ordinal))).Kill();
        await Eventually.TrueAsync(() => pool.Workers().All(w => w.Name != victim), () => $"{victim} is still listed", Slow);

        var lost = await Assert.ThrowsAsync<DataLostException>(() => single.GetAsync()).WaitAsync(Slow);
        Assert.Equal(single.Key, lost.Key);
        Assert.Contains(single.Key, lost.Message);
        Assert.Contains("scattered", lost.Message);
        var input = await Assert.ThrowsAsync<RemoteTaskException>(() => pool.ApplyAsync((int[] xs) => xs.Sum(), single)).WaitAsync(Slow);
        Assert.Contains(single.Key, input.RemoteMessage);
        Assert.Equal(new[] { 4, 5, 6 }, await everywhere.GetAsync().WaitAsync(Slow));
        Assert.Equal(15, await pool.Apply((int[] xs) => xs.Sum(), everywhere).GetAsync().WaitAsync(Slow));
    }
}

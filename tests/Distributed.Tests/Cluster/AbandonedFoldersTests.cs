using Distributed.Hosting;
using Distributed.Worker;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A worker killed with SIGKILL leaves its work and spill folders behind; the next worker started on
/// the machine removes them, and never touches the folders of a worker that is running.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class AbandonedFoldersTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_starting_worker_removes_the_folders_of_a_killed_worker_and_leaves_a_live_workers_alone()
    {
        // 8 MB of values over two workers that keep 1 MB each in memory: both spill.
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1, workerArguments: ["--memory-limit", "1MB"]);
        await using var pool = await cluster.ConnectAsync();
        var blocks = pool.Map(i => Enumerable.Repeat((byte)i, 400_000).ToArray(), Enumerable.Range(0, 20));
        var (victim, survivor) = (cluster.Workers[0], cluster.Workers[1]);
        var (victimWork, victimSpill) = FoldersOf(victim);
        var (survivorWork, survivorSpill) = FoldersOf(survivor);
        Assert.NotEmpty(Directory.GetFiles(victimSpill));
        var survivorFiles = Directory.GetFiles(survivorSpill);
        Assert.NotEmpty(survivorFiles);

        victim.Kill();
        await victim.WaitForExitAsync();
        Assert.True(Directory.Exists(victimSpill), "the killed worker's spill folder should be left behind by the kill");

        await cluster.AddWorkerAsync();

        await Eventually.TrueAsync(() => !Directory.Exists(victimSpill) && !Directory.Exists(victimWork),
            () => $"still there: {string.Join(", ", new[] { victimWork, victimSpill }.Where(Directory.Exists))}", Slow);
        Assert.True(Directory.Exists(survivorWork), $"the live worker's work folder {survivorWork} was removed");
        Assert.All(survivorFiles, file => Assert.True(File.Exists(file), $"the live worker's spill file {file} was removed"));
        // The live worker still serves what it spilled; what the killed one held is made again.
        var values = await pool.GatherAsync(blocks).WaitAsync(Slow);
        for (var i = 0; i < values.Count; i++) Assert.True(values[i].Length == 400_000 && values[i].All(b => b == (byte)i), $"value {i} came back wrong");
    }

    /// <summary>A worker's work and spill folders, named by its process id and its port (from its start line).</summary>
    private static (string Work, string Spill) FoldersOf(ClusterProcess worker)
    {
        var start = worker.Output.First(l => l.StartsWith("Start worker at:", StringComparison.Ordinal));
        var port = start[(start.LastIndexOf(':') + 1)..].Trim();
        var work = Path.Combine(WorkerFolders.Root, $"worker-{worker.Id}-{port}");
        return (work, work + "-spill");
    }
}

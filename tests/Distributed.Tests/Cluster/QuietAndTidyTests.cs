using Distributed.Hosting;
using Distributed.Tests.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Expected events cost the logs one line with the fact, and idle executors do not pile up: real
/// dcenter, dworker and client processes.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class QuietAndTidyTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_worker_killed_mid_Map_costs_the_logs_one_information_line_of_the_center_and_no_warning_or_stack_trace()
    {
        // Every node writes debug too, so that the test sees Akka's reports of the loss arrive (at debug)
        // before it looks for warnings.
        using var settings = SettingsFile("distributed.logging.level = debug");
        await using var cluster = await LocalCluster.StartAsync(workers: 3, threadsPerWorker: 1, workerArguments: ["--config", settings.Path],
            centerSettings: "distributed.logging.level = debug");
        var markers = Directory.CreateTempSubdirectory("distributed-quiet-");
        var environment = new Dictionary<string, string>(cluster.ClientEnvironment) { ["DISTRIBUTED_HOCON"] = "akka.loglevel = DEBUG" };
        var client = ClusterProcess.Start(AppContext.BaseDirectory, "Distributed.TestClient", [cluster.Address, markers.FullName], environment);
        try
        {
            await client.WaitForLineAsync(l => l == "RUNNING", Slow);
            await Eventually.TrueAsync(() => markers.GetFiles("task-*").Length >= 6, () => "the client's Map did not start", Slow);
            var victim = cluster.Workers[0];
            var victimAddress = WorkerAddress(victim);
            var survivor = cluster.Workers[1];
            var since = (Center: cluster.Center.Output.Count, Survivor: survivor.Output.Count, Client: client.Output.Count);

            victim.Kill();

            var downed = await cluster.Center.WaitForLineAsync(l => l.Contains($" at {victimAddress} downed", StringComparison.Ordinal), Slow);
            Assert.Contains(" info CenterActor: ", downed, StringComparison.Ordinal);
            Assert.Contains("to run again elsewhere", downed, StringComparison.Ordinal);
            // The last of Akka's reports: the dead node's identity quarantined once the cluster removed it.
            // (A dial-out client, the default, has no connection to a worker: nothing to report.)
            foreach (var node in new[] { cluster.Center, survivor })
                await node.WaitForLineAsync(l => l.Contains("is irrecoverably failed. UID is now quarantined", StringComparison.Ordinal), Slow);

            AssertQuiet("dcenter", cluster.Center.Output.Skip(since.Center).ToList());
            AssertQuiet("the surviving dworker", survivor.Output.Skip(since.Survivor).ToList());
            AssertQuiet("the client", client.Output.Skip(since.Client).ToList());
            Assert.Single(cluster.Center.Output.Skip(since.Center), l => l.Contains(" info CenterActor: ", StringComparison.Ordinal) && l.Contains(victimAddress, StringComparison.Ordinal));
        }
        finally
        {
            if (!client.HasExited) client.Kill();
            markers.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task An_executor_that_ran_no_task_for_the_idle_timeout_is_stopped_and_its_code_runs_again_after()
    {
        using var settings = SettingsFile("distributed.worker.executor-idle-timeout = 2s");
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1, workerArguments: ["--config", settings.Path]);
        await using var pool = await cluster.ConnectAsync();
        var worker = cluster.Workers[0];
        Assert.Equal(Enumerable.Range(1, 20), pool.Gather(pool.Map(x => x + 1, Enumerable.Range(0, 20))));
        // The executor of this code, and the spare started after it was taken.
        await Eventually.TrueAsync(() => ProcessTree.ChildrenOf(worker.Id).Count == 2, () => $"executors: {ProcessTree.ChildrenOf(worker.Id).Count}", Slow);
        var executorsBefore = ProcessTree.ChildrenOf(worker.Id);

        await worker.WaitForLineAsync(l => l.Contains("stops the executor of code", StringComparison.Ordinal), Slow);
        await Eventually.TrueAsync(() => ProcessTree.ChildrenOf(worker.Id).Count == 1, () => $"executors: {ProcessTree.ChildrenOf(worker.Id).Count}", Slow);
        var spare = Assert.Single(ProcessTree.ChildrenOf(worker.Id));
        Assert.Contains(spare, executorsBefore);

        // The same code again: the spare takes it (the worker kept the assemblies in its cache).
        var takenBefore = (await pool.TransferStatsAsync()).Values.Sum(s => s.SpareExecutorsTaken);
        Assert.Equal(Enumerable.Range(2, 20), pool.Gather(pool.Map(x => x + 2, Enumerable.Range(0, 20))));
        Assert.Equal(takenBefore + 1, (await pool.TransferStatsAsync()).Values.Sum(s => s.SpareExecutorsTaken));
    }

    private static void AssertQuiet(string node, IReadOnlyList<string> lines)
    {
        var loud = lines.Where(l => l.Contains(" warn ", StringComparison.Ordinal) || l.Contains(" fail ", StringComparison.Ordinal) || l.Contains(" crit ", StringComparison.Ordinal)
            || l.StartsWith("[WARNING]", StringComparison.Ordinal) || l.StartsWith("[ERROR]", StringComparison.Ordinal) || l.TrimStart().StartsWith("at ", StringComparison.Ordinal)).ToList();
        Assert.True(loud.Count == 0, $"{node} wrote warnings, errors or stack traces after the kill:{Environment.NewLine}{string.Join(Environment.NewLine, loud)}");
    }

    private static string WorkerAddress(ClusterProcess worker)
    {
        const string Prefix = "Start worker at:";
        return worker.Output.First(l => l.StartsWith(Prefix, StringComparison.Ordinal))[Prefix.Length..].Trim();
    }

    private static TemporaryFile SettingsFile(string hocon)
    {
        var file = new TemporaryFile(Path.Combine(Path.GetTempPath(), $"distributed-settings-{Guid.NewGuid():N}.conf"));
        File.WriteAllText(file.Path, hocon);
        return file;
    }

    private sealed class TemporaryFile(string path) : IDisposable
    {
        public string Path { get; } = path;

        public void Dispose() => File.Delete(Path);
    }
}

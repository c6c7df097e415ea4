using Distributed.Hosting;

namespace Distributed.Tests.Hosting;

/// <summary>A LocalCluster started with connectPool: its Pool joins while the workers start, and is handed over or disposed.</summary>
[ProcessTier]
public sealed class LocalClusterConnectPoolTests
{
    [Fact]
    public async Task The_first_ConnectAsync_returns_the_Pool_connected_during_the_start_and_a_second_connects_another()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, connectPool: true);
        await using var first = await cluster.ConnectAsync();
        await using var second = await cluster.ConnectAsync();

        Assert.NotSame(first, second);
        Assert.Equal(Enumerable.Range(1, 8), await first.GatherAsync(first.Map(x => x + 1, Enumerable.Range(0, 8))));
        Assert.Equal(Enumerable.Range(2, 8), await second.GatherAsync(second.Map(x => x + 2, Enumerable.Range(0, 8))));
    }

    [Fact]
    public async Task A_center_that_fails_to_start_fails_the_start_at_once_and_stops_the_workers_and_the_pool_waiting_for_it()
    {
        // The workers and the Pool start beside the center and try it for up to a minute: a center that
        // exits must end the start with its own error, not leave them trying.
        var before = DworkerChildren();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => LocalCluster.StartAsync(workers: 2, connectPool: true,
            centerSettings: "distributed.center.unclaimed-keys-grace = banana").WaitAsync(TimeSpan.FromSeconds(45)));

        Assert.IsNotType<TimeoutException>(error);
        Assert.Contains("unclaimed-keys-grace", error.Message);
        await Eventually.TrueAsync(() => DworkerChildren().Except(before).Any() is false,
            () => $"dworker processes still running: {string.Join(", ", DworkerChildren().Except(before))}");
    }

    /// <summary>The dworker processes this test process started and that still run.</summary>
    private static List<int> DworkerChildren() =>
        ProcessTree.ChildrenOf(Environment.ProcessId).Where(id => CommandLine(id).Contains("dworker.dll", StringComparison.Ordinal)).ToList();

    private static string CommandLine(int processId)
    {
        try { return File.ReadAllText($"/proc/{processId}/cmdline"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; } // it ended meanwhile
    }

    [Fact]
    public async Task A_Pool_connected_during_the_start_and_never_taken_is_disposed_with_the_cluster()
    {
        var cluster = await LocalCluster.StartAsync(workers: 1, connectPool: true);
        var processes = cluster.Workers.Append(cluster.Center).ToList();

        await cluster.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(processes, p => Assert.True(p.HasExited, "a process of the cluster is still running"));
    }
}

using System.Text.RegularExpressions;
using Distributed.Hosting;
using Distributed.Protocol;

namespace Distributed.Tests.Cluster;

/// <summary>
/// After a restart of the center, the values the workers kept and no client claimed (their client
/// went away while the center was down) are deleted once the grace period is over; the values of a
/// client that reconnected stay and read back correctly.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed partial class UnclaimedKeysTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Values_no_client_claims_after_a_center_restart_are_deleted_from_the_workers_and_claimed_ones_stay()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1,
            centerSettings: "distributed.center.unclaimed-keys-grace = 20s"); // long enough for the live client to reconnect and claim on a busy machine
        await using var survivor = await cluster.ConnectAsync();
        var departed = await cluster.ConnectAsync();
        var squares = survivor.Map(x => x * x, Enumerable.Range(0, 20));
        var cubes = departed.Map(x => x * x * x, Enumerable.Range(0, 30));
        Assert.Equal(50, (await survivor.TransferStatsAsync()).Values.Sum(s => s.KeyCount));

        // The second client goes away while the center is down: nobody will ever claim or release its values.
        await cluster.RestartCenterAsync(whileDown: async () => await departed.DisposeAsync());

        var squareKeys = squares.Select(s => s.Key).ToHashSet();
        await Eventually.TrueAsync(() => StoredKeyCount(survivor) == 20 && HeldKeys(survivor).SetEquals(squareKeys),
            () => Describe(cluster, survivor), Slow);
        Assert.All(cubes, c => Assert.Empty(survivor.WhoHas(c)));
        Assert.Equal(Enumerable.Range(0, 20).Select(x => x * x), await survivor.GatherAsync(squares).WaitAsync(Slow));
        // One line per rejoined worker that held any of them, together naming every released value.
        var released = cluster.Center.Output.Select(l => ReleasedLine().Match(l)).Where(m => m.Success).Sum(m => int.Parse(m.Groups[1].Value));
        Assert.Equal(30, released);
    }

    [Theory]
    [InlineData("distributed.center.unclaimed-keys-grace = soon", "distributed.center.unclaimed-keys-grace is not a duration such as 150s (it is 'soon')")]
    [InlineData("distributed.center.unclaimed-keys-grace = 0s", "distributed.center.unclaimed-keys-grace must be a positive duration")]
    [InlineData("distributed.center { unclaimed-keys-grace = ", "distributed.center.unclaimed-keys-grace is not a duration such as 150s (it is empty)")]
    public async Task Dcenter_with_a_bad_setting_says_what_is_wrong_and_exits_with_an_error(string settings, string expected)
    {
        var center = ClusterProcess.Start(AppContext.BaseDirectory, "dcenter", ["--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString()],
            new Dictionary<string, string> { [ClusterConfig.OverridesVariable] = settings });
        try
        {
            using var limit = new CancellationTokenSource(Slow);
            await center.WaitForExitAsync(limit.Token);
        }
        finally
        {
            center.Kill();
        }
        var output = string.Join(Environment.NewLine, center.Output);
        Assert.True(center.ExitCode != 0, $"dcenter exited with 0. Its output:{Environment.NewLine}{output}");
        Assert.Contains(expected, output);
    }

    [GeneratedRegex(@"Released (\d+) values kept across a restart of the center that no client claimed")]
    private static partial Regex ReleasedLine();

    /// <summary>The keys the workers' stores hold, read from the workers themselves; -1 while they cannot be asked.</summary>
    private static int StoredKeyCount(Pool pool)
    {
        try { return pool.TransferStatsAsync().GetAwaiter().GetResult().Values.Sum(s => s.KeyCount); }
        catch (Exception e) when (e is CenterUnreachableException or CenterRestartedException or TimeoutException or Akka.Actor.AskTimeoutException or IOException) { return -1; }
    }

    private static HashSet<string> HeldKeys(Pool pool)
    {
        try { return pool.HasWhat().Values.SelectMany(k => k).ToHashSet(); }
        catch (Exception e) when (e is CenterUnreachableException or CenterRestartedException or TimeoutException or Akka.Actor.AskTimeoutException) { return []; }
    }

    private static string Describe(LocalCluster cluster, Pool pool)
    {
        var lines = new List<string> { $"keys the center knows: {HeldKeys(pool).Count}", "--- center:" };
        lines.AddRange(cluster.Center.Output.TakeLast(30));
        foreach (var worker in cluster.Workers)
        {
            lines.Add($"--- worker {worker.Id} (exited: {worker.HasExited}):");
            lines.AddRange(worker.Output.TakeLast(30));
        }
        return string.Join(Environment.NewLine, lines);
    }
}

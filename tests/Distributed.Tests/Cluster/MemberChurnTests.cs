using Akka.Configuration;
using Distributed.Hosting;
using Distributed.Protocol;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Members that vanish one after another, each shortly after the last, keep the cluster's reachability
/// changing for longer than Akka's split brain resolver waited for it to settle. The resolver then downed
/// every node, the center with them (by its <c>down-all-when-unstable</c>, or, with that off, when its
/// view of who sees whom conflicted): member clients killed in turn would end the whole cluster.
/// The center downs each of them instead (<c>CenterDowningProvider</c>), and nothing else changes.
/// </summary>
[Collection(WorkerDeathTests.Name)]
[ProcessTier]
public sealed class MemberChurnTests
{
    private const int VanishingMembers = 12;
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_center_downs_members_vanishing_one_after_another_and_keeps_running_with_every_value()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        var pool = await cluster.ConnectAsync();
        var stored = pool.Map(x => x * 3, Enumerable.Range(0, 30));
        var center = HostPort.Parse(cluster.Address);

        // Their systems stop without Akka's coordinated shutdown: no leaving, gone as a killed process is.
        var vanishing = ConfigurationFactory.ParseString("akka.coordinated-shutdown.run-by-actor-system-terminate = off");
        var members = await Task.WhenAll(Enumerable.Range(0, VanishingMembers).Select(async _ =>
        {
            var member = ClusterConfig.CreateSystem(Role.Client, "127.0.0.1", 0, center, cluster.Credentials, settings: vanishing);
            await TestNetwork.MemberUpAsync(member).WaitAsync(Slow);
            return member;
        }));
        var addresses = members.Select(m => Akka.Cluster.Cluster.Get(m).SelfAddress.ToString()).ToList();
        // The pace is the stimulus, not a wait: each member goes half a second after the last, so that
        // the center sees a new unreachable member every half second for ~6 s (Akka's split brain
        // resolver waited for 1 s without a change, and gave up and downed all after 5 s).
        foreach (var member in members)
        {
            await member.Terminate().WaitAsync(Slow);
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        await Eventually.TrueAsync(() => cluster.Center.HasExited || addresses.All(a => Downed(cluster.Center).Any(l => l.Contains(a, StringComparison.Ordinal))),
            () => $"the center downed {Downed(cluster.Center).Count} of the {VanishingMembers} vanished members", Slow);
        Assert.False(cluster.Center.HasExited, $"the center exited: {string.Join(Environment.NewLine, cluster.Center.Output.TakeLast(20))}");
        var worker = cluster.Workers.Single();
        Assert.False(worker.HasExited, $"the worker exited: {string.Join(Environment.NewLine, worker.Output.TakeLast(20))}");
        Assert.Single(worker.Output, l => l.StartsWith("Registered with center at:", StringComparison.Ordinal)); // never downed, never rejoined

        Assert.Equal(Enumerable.Range(0, 30).Select(x => x * 3), await pool.GatherAsync(stored).WaitAsync(Slow));
        await pool.DisposeAsync();
        await using var fresh = await cluster.ConnectAsync();
        Assert.Equal([1, 2, 3], fresh.Gather(fresh.Map(x => x + 1, [0, 1, 2])));
    }

    /// <summary>The center's lines saying it downed an unreachable member.</summary>
    private static List<string> Downed(ClusterProcess center) =>
        center.Output.Where(l => l.Contains("Downing akka", StringComparison.Ordinal)).ToList();
}

using Distributed.Hosting;
using Distributed.Protocol;

namespace Distributed.Tests.Hosting;

/// <summary>
/// What makes a cluster start and stop quickly (issue 12: the quickstart ≤ 2.5 s) is in effect: the
/// center's singleton is stopped within 50 ms of its node leaving. The programs' JIT settings:
/// <see cref="JitSettingsTests"/>.
/// </summary>
public sealed class StopSettingsTests
{
    [Theory]
    [InlineData(Role.Center)]
    [InlineData(Role.Worker)]
    [InlineData(Role.Client)]
    public void A_leaving_center_hands_over_or_stops_its_singleton_after_50_ms_not_200(Role role)
    {
        var config = ClusterConfig.For(role, "127.0.0.1", 0, new HostPort("127.0.0.1", 1));
        Assert.Equal(TimeSpan.FromMilliseconds(50), config.GetTimeSpan("akka.cluster.singleton.hand-over-retry-interval", null));
    }
}

/// <summary>A LocalCluster's stop is graceful: the center sees each worker leave (not die), and every program exits with 0.</summary>
[ProcessTier]
public sealed class LocalClusterStopTests
{
    [Fact]
    public async Task Disposing_the_cluster_lets_the_workers_leave_before_the_center_stops()
    {
        var cluster = await LocalCluster.StartAsync(workers: 2);
        var center = cluster.Center;
        var workers = cluster.Workers.ToList();

        await cluster.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(workers.Append(center), p => Assert.True(p.HasExited, $"{p.Name} {p.Id} is still running"));
        Assert.All(workers.Append(center), p => Assert.Equal(0, p.ExitCode));
        var said = string.Join('\n', center.Output);
        Assert.Equal(2, center.Output.Count(l => l.Contains("CenterActor: Worker", StringComparison.Ordinal) && l.EndsWith("left the cluster", StringComparison.Ordinal)));
        Assert.DoesNotContain("downed", said, StringComparison.Ordinal);
        Assert.DoesNotContain("Unreachable", said, StringComparison.OrdinalIgnoreCase);
    }
}

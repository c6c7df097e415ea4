using System.Globalization;
using Distributed.Hosting;

namespace Distributed.Tests.Hosting;

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
        var left = center.Output.Where(l => l.Contains("CenterActor: Worker", StringComparison.Ordinal) && l.EndsWith("left the cluster", StringComparison.Ordinal)).ToList();
        Assert.True(left.Count == 2, $"the center saw {left.Count} of 2 workers leave; it said:\n{said}");
        Assert.DoesNotContain("downed", said, StringComparison.Ordinal);
        Assert.DoesNotContain("Unreachable", said, StringComparison.OrdinalIgnoreCase);
        // Each worker told the center before it went (LeavingNow), not the cluster's gossip after its exit:
        // a center stopped right after the workers' exit would otherwise miss a leave.
        var lastExit = workers.Max(w => w.ExitTime.ToUniversalTime());
        foreach (var line in left)
        {
            var at = DateTime.Parse(line[..line.IndexOf(' ', StringComparison.Ordinal)], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            Assert.True(at <= lastExit, $"the center noted a leave at {at:O}, after the last worker exited ({lastExit:O}): {line}");
        }
    }
}

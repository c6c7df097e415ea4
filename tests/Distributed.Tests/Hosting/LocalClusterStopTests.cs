using System.Globalization;
using Distributed.Hosting;

namespace Distributed.Tests.Hosting;

/// <summary>
/// A LocalCluster's stop is graceful: the center sees each worker leave (not die), and every program
/// exits with 0; the center stops beside the workers' leave once it has said it forgot them, else after them.
/// </summary>
[ProcessTier]
public sealed class LocalClusterStopTests
{
    [Fact]
    public async Task Disposing_the_cluster_has_the_center_forget_each_worker_before_it_stops()
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

    [Fact]
    public async Task A_center_that_does_not_log_the_leaves_is_stopped_after_the_workers_all_the_same()
    {
        // At warning level the center says nothing of a leave: the dispose cannot see it forget the
        // workers, so it waits its bound and stops the center after them.
        var cluster = await LocalCluster.StartAsync(workers: 1, centerSettings: "distributed.logging.level = warning");
        var center = cluster.Center;
        var worker = cluster.Workers.Single();

        await cluster.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(center.HasExited && worker.HasExited);
        Assert.Equal(0, worker.ExitCode);
        Assert.Equal(0, center.ExitCode);
        Assert.True(worker.ExitTime <= center.ExitTime, $"the center exited at {center.ExitTime:O}, before its worker ({worker.ExitTime:O})");
        var said = string.Join('\n', center.Output);
        Assert.DoesNotContain("left the cluster", said, StringComparison.Ordinal);
        Assert.DoesNotContain("Unreachable", said, StringComparison.OrdinalIgnoreCase);
    }
}

using Distributed.Dask;
using Distributed.Tests.Graphs;

namespace Distributed.Tests.Cluster;

/// <summary>Progress of a computation through IProgress (Map, SubmitMap, graph Get), and the center's per-client counts.</summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class ProgressTests(LocalClusterFixture fixture)
{
    private static readonly TimeSpan Slow = TimeSpan.FromMinutes(2);

    private Pool Pool => fixture.Pool;

    /// <summary>Keeps every report, in order, as it is made (no synchronization context in between).</summary>
    private sealed class Reports : IProgress<ComputationProgress>
    {
        private readonly List<ComputationProgress> _seen = [];

        public void Report(ComputationProgress value)
        {
            lock (_seen) _seen.Add(value);
        }

        public List<ComputationProgress> Seen
        {
            get { lock (_seen) return [.. _seen]; }
        }

        public void AssertMonotonic()
        {
            var seen = Seen;
            for (var i = 1; i < seen.Count; i++)
            {
                Assert.True(seen[i].Done >= seen[i - 1].Done, $"Done went back: {seen[i - 1]} then {seen[i]}");
                Assert.True(seen[i].Failed >= seen[i - 1].Failed, $"Failed went back: {seen[i - 1]} then {seen[i]}");
            }
            Assert.All(seen, p => Assert.True(p.Done + p.Failed <= p.Total, $"more ended than there are: {p}"));
        }
    }

    [Fact]
    public async Task A_Map_reports_its_tasks_as_they_end_and_its_last_report_is_complete_before_it_returns()
    {
        var reports = new Reports();

        var results = await Pool.MapAsync(x => new byte[100 + x % 3], Enumerable.Range(0, 3000), progress: reports);

        var last = reports.Seen[^1];
        Assert.Equal(new ComputationProgress(3000, 3000, 0, last.ResultBytes), last);
        Assert.True(last.IsComplete);
        Assert.True(last.ResultBytes >= 3000 * 100, $"{last.ResultBytes} bytes of results");
        Assert.True(reports.Seen.Count < 3000, $"{reports.Seen.Count} reports: one per message, not one per task");
        reports.AssertMonotonic();
        Assert.Equal(3000, results.Count);
    }

    [Fact]
    public async Task A_failing_Map_reports_its_failure()
    {
        var reports = new Reports();

        await Assert.ThrowsAsync<RemoteTaskException>(() => Pool.MapAsync(x => x == 5 ? throw new InvalidOperationException("five") : x, Enumerable.Range(0, 10), progress: reports));

        Assert.Equal(1, reports.Seen[^1].Failed);
        reports.AssertMonotonic();
    }

    [Fact]
    public async Task SubmitMap_reports_through_its_options()
    {
        var reports = new Reports();

        var futures = Pool.SubmitMap(x => x + 1, Enumerable.Range(0, 200), new TaskOptions { Progress = reports });

        await Futures.WaitAsync(futures, WaitFor.AllCompleted, Slow);
        await Eventually.TrueAsync(() => reports.Seen is [.., { Done: 200 }], () => string.Join(", ", reports.Seen));
        reports.AssertMonotonic();
    }

    [Fact]
    public async Task A_graph_reports_every_task_intermediates_included()
    {
        var dsk = new Graph();
        Func<double, double> slowly = x =>
        {
            Thread.Sleep(2);
            return x;
        };
        var leaves = Enumerable.Range(0, 300).Select(i => $"leaf-{i}").ToList();
        for (var i = 0; i < leaves.Count; i++) dsk[leaves[i]] = (slowly, (double)i);
        var root = PairwiseSum.AddTo(dsk, leaves);
        var reports = new Reports();

        var total = await Pool.GetGraphAsync(dsk, root, progress: reports).WaitAsync(Slow);

        Assert.Equal(Enumerable.Range(0, 300).Sum(), (double)total!);
        var last = reports.Seen[^1];
        Assert.Equal(dsk.Count, last.Total);
        Assert.Equal(dsk.Count, last.Done);
        reports.AssertMonotonic();
    }

    [Fact]
    public async Task The_center_counts_each_clients_tasks_for_others_to_read()
    {
        var before = (await Pool.ProgressAsync()).Mine!;

        Pool.Map(x => x, Enumerable.Range(0, 25));

        var after = await Pool.ProgressAsync();
        Assert.NotNull(after.Mine);
        Assert.Contains(after.Mine, after.Clients);
        Assert.True(after.Mine!.Submitted - before.Submitted >= 25, $"{before} then {after.Mine}");
        Assert.True(after.Mine.Finished - before.Finished >= 25, $"{before} then {after.Mine}");
    }
}

using Distributed.Hosting;
using Distributed.Tests.Programs;

namespace Distributed.Tests.Dashboard;

/// <summary>The dashboard of a real dcenter, with a real dworker running a Map.</summary>
[ProcessTier]
public sealed class DashboardProgramTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private static int SlowSame(int x)
    {
        Thread.Sleep(10);
        return x;
    }

    [Fact]
    public async Task Dcenter_serves_metrics_that_count_a_Map_on_a_real_worker_during_and_after_it()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var dashboardPort = LocalCluster.FreePort();
        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString(), "--dashboard-port", dashboardPort.ToString());
        var line = await center.WaitForLineAsync(l => l.StartsWith("Dashboard at", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        Assert.Equal($"Dashboard at http://127.0.0.1:{dashboardPort}/", line);
        await processes.StartWorkerAsync($"127.0.0.1:{port}", "--nthreads", "2");
        await using var pool = await Pool.ConnectAsync($"127.0.0.1:{port}", TimeSpan.FromSeconds(30));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{dashboardPort}/"), Timeout = TimeSpan.FromSeconds(30) };
        const int Tasks = 300;

        var map = pool.MapAsync(SlowSame, Enumerable.Range(0, Tasks));
        var scrapes = new List<Dictionary<string, double>>();
        while (!map.IsCompleted)
        {
            scrapes.Add(PrometheusSamples.Parse(await http.GetStringAsync("metrics")));
            await Task.WhenAny(map, Task.Delay(200));
        }
        await map.WaitAsync(Patience);

        Assert.NotEmpty(scrapes);
        var finishedDuring = scrapes.Select(s => s["distributed_tasks_finished_total"]).ToList();
        Assert.True(finishedDuring.Zip(finishedDuring.Skip(1)).All(p => p.Second >= p.First), $"finished went back: {string.Join(", ", finishedDuring)}");
        Assert.All(scrapes, s => Assert.True(s["distributed_tasks_submitted_total"] is 0 or Tasks, $"submitted: {s["distributed_tasks_submitted_total"]}"));
        // A scrape shares the center's view of the last quarter second: the one after may still be of before.
        var after = new Dictionary<string, double>();
        await Until.TrueAsync(async () =>
        {
            after = PrometheusSamples.Parse(await http.GetStringAsync("metrics"));
            return after["distributed_tasks_finished_total"] >= Tasks;
        }, () => $"finished: {after.GetValueOrDefault("distributed_tasks_finished_total")}", Patience);
        Assert.Equal(0, after["distributed_tasks_failed_total"]);
        Assert.Equal(0, after["distributed_tasks_pending"]);
        Assert.Equal(1, after["distributed_workers"]);
        Assert.True(after["distributed_keys"] >= Tasks, $"keys: {after["distributed_keys"]}");
        // The worker's own counts come with its next status (every 2 s).
        var last = "";
        await Until.TrueAsync(async () =>
        {
            last = await http.GetStringAsync("metrics");
            var samples = PrometheusSamples.Parse(last);
            var ran = samples.Where(s => s.Key.StartsWith("distributed_worker_tasks_run_total{", StringComparison.Ordinal)).Sum(s => s.Value);
            return ran >= Tasks && samples.Any(s => s.Key.StartsWith("distributed_worker_memory_bytes{", StringComparison.Ordinal) && s.Value > 0);
        }, () => $"the worker's status does not count the Map:\n{last}", Patience);
    }

    [Fact]
    public async Task Dcenter_with_dashboard_port_0_serves_no_dashboard()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString(), "--dashboard-port", "0");
        await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        await using var pool = await Pool.ConnectAsync($"127.0.0.1:{port}", TimeSpan.FromSeconds(30)); // by then it printed all it prints at start

        Assert.DoesNotContain(center.Output, l => l.StartsWith("Dashboard at", StringComparison.Ordinal));
    }
}

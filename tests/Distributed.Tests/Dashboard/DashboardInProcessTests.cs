using System.Net.Http.Json;
using System.Text.Json;
using Distributed.Center.Dashboard;
using Distributed.Hosting;
using Distributed.Tests.InProcess;

namespace Distributed.Tests.Dashboard;

/// <summary>The dashboard's JSON API and /metrics over a real center and workers in this process (stand-in executors).</summary>
public sealed class DashboardInProcessTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private static int Same(int x) => x;

    [Fact]
    public async Task The_API_shows_the_workers_each_task_of_a_Map_its_progress_and_its_counts_in_metrics()
    {
        await using var cluster = await InProcessCluster.StartAsync(workers: 2);
        await using var dashboard = await DashboardServer.StartAsync(cluster.Center.System, "127.0.0.1", null, new DashboardSettings(LocalCluster.FreePort()));
        using var http = new HttpClient { BaseAddress = new Uri(dashboard.Url), Timeout = TimeSpan.FromSeconds(30) };
        await using var pool = await cluster.ConnectAsync();

        var workers = await http.GetFromJsonAsync<JsonElement>("api/workers"); // also: someone watches from now on
        Assert.Equal(["worker-1", "worker-2"], workers.EnumerateArray().Select(w => w.GetProperty("name").GetString()).Order());
        await pool.MapAsync(Same, Enumerable.Range(0, 50)).WaitAsync(Patience);

        var spans = (await http.GetFromJsonAsync<JsonElement>("api/tasks?since=0")).EnumerateArray().ToList();
        Assert.Equal(50, spans.Count);
        Assert.All(spans, s => Assert.Contains(s.GetProperty("worker").GetString(), new[] { "worker-1", "worker-2" }));
        Assert.All(spans, s => Assert.True(s.GetProperty("end").GetDouble() >= s.GetProperty("start").GetDouble()));
        // The center's view behind the page is cached for a moment: a Map that ends within it shows on the next.
        var progress = default(JsonElement);
        await Until.TrueAsync(async () =>
        {
            progress = await http.GetFromJsonAsync<JsonElement>("api/progress");
            return progress.GetProperty("clients").EnumerateArray().Sum(c => c.GetProperty("finished").GetInt64()) == 50;
        }, () => $"the clients' counts stay at {progress}", Patience);
        var computation = Assert.Single(progress.GetProperty("computations").EnumerateArray());
        Assert.Equal((50, 50, 0), (computation.GetProperty("total").GetInt64(), computation.GetProperty("finished").GetInt64(), computation.GetProperty("failed").GetInt64()));
        Assert.Contains("same", computation.GetProperty("function").GetString(), StringComparison.Ordinal);
        var client = Assert.Single(progress.GetProperty("clients").EnumerateArray());
        Assert.Equal(50, client.GetProperty("finished").GetInt64());
        var events = await http.GetFromJsonAsync<JsonElement>("api/events");
        Assert.Equal(2, events.EnumerateArray().Count(e => e.GetProperty("kind").GetString() == "joined"));

        var metrics = PrometheusSamples.Parse(await http.GetStringAsync("metrics"));
        Assert.Equal(50, metrics["distributed_tasks_submitted_total"]);
        Assert.Equal(50, metrics["distributed_tasks_finished_total"]);
        Assert.Equal(2, metrics["distributed_workers"]);
        // Each worker's status comes every two seconds.
        var last = "";
        await Until.TrueAsync(async () =>
        {
            last = await http.GetStringAsync("metrics");
            return PrometheusSamples.Parse(last).Keys.Count(k => k.StartsWith("distributed_worker_memory_bytes{", StringComparison.Ordinal)) == 2;
        }, () => $"not both workers' memory in /metrics:\n{last}", Patience);
    }
}

/// <summary>Waits on an asynchronous condition (an HTTP request, say) instead of sleeping a fixed time.</summary>
public static class Until
{
    public static async Task TrueAsync(Func<Task<bool>> condition, Func<string> describe, TimeSpan timeout)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout) Assert.Fail($"Still false after {timeout.TotalSeconds:0} s: {describe()}");
            await Task.Delay(100);
        }
    }
}

using Distributed.Hosting;
using Distributed.Tests.Programs;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Distributed.Tests.Dashboard;

/// <summary>
/// The dashboard page in a real browser: Debian's chromium, headless, driven by Playwright (which
/// downloads no browser of its own), over a real dcenter and two dworkers.
/// </summary>
[ProcessTier]
public sealed class DashboardBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private static int SlowSquare(int x)
    {
        Thread.Sleep(150);
        return x * x;
    }

    private static int Explode() => throw new InvalidOperationException("dashboard test: this task fails on purpose");

    [SkippableFact]
    public async Task The_page_lists_the_workers_advances_a_Maps_bar_to_done_and_shows_a_failed_tasks_error_with_its_key()
    {
        Skip.IfNot(File.Exists(Chromium), $"{Chromium} is missing (`apt-get install chromium`; .ci/run installs it)");
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var dashboardPort = LocalCluster.FreePort();
        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString(), "--dashboard-port", dashboardPort.ToString());
        await center.WaitForLineAsync(l => l.StartsWith("Dashboard at", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        // Two threads each: the task stream has a lane per worker thread.
        await Task.WhenAll(processes.StartWorkerAsync($"127.0.0.1:{port}", "--nthreads", "2"), processes.StartWorkerAsync($"127.0.0.1:{port}", "--nthreads", "2"));
        await using var pool = await Pool.ConnectAsync($"127.0.0.1:{port}", TimeSpan.FromSeconds(30));

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        using var playwright = await Playwright.CreateAsync();
        // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1400, Height = 1100 } });
        var consoleErrors = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") lock (consoleErrors) consoleErrors.Add(message.Text); };
        page.PageError += (_, error) => { lock (consoleErrors) consoleErrors.Add(error); };
        var wait = new LocatorAssertionsToHaveCountOptions { Timeout = (float)Patience.TotalMilliseconds };
        await page.GotoAsync($"http://127.0.0.1:{dashboardPort}/");

        // The workers.
        await Expect(page.Locator("#workers tbody tr")).ToHaveCountAsync(2, wait);
        await Expect(page.Locator("#connection")).ToHaveTextAsync("live");

        // A Map of slow-ish tasks: its bar goes up while it runs, and ends complete.
        var map = pool.MapAsync(SlowSquare, Enumerable.Range(0, 60));
        var bar = page.Locator(".bar[data-function*='slowsquare']");
        var seen = new SortedSet<int>();
        while (!map.IsCompleted)
        {
            if (await bar.CountAsync() == 1 && int.TryParse(await bar.GetAttributeAsync("data-done"), out var done)) seen.Add(done);
            await Task.WhenAny(map, Task.Delay(100));
        }
        Assert.Equal(60, (await map.WaitAsync(Patience)).Count);
        await Expect(bar).ToHaveAttributeAsync("data-done", "60", new() { Timeout = (float)Patience.TotalMilliseconds });
        await Expect(bar).ToHaveAttributeAsync("data-total", "60");
        await Expect(bar).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bcomplete\b"));
        Assert.True(seen.Any(done => done is > 0 and < 60), $"the bar showed only {string.Join(", ", seen)} done while the Map ran: it did not advance");
        await Expect(page.Locator("#stream")).ToBeVisibleAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => spans.length >= 60"), "the task stream did not get the Map's tasks");
        // Each task on the lane of the thread that ran it: both threads of each worker ran some of the Map.
        Assert.True(await page.EvaluateAsync<bool>("() => spans.filter(s => s.thread != null).length >= 60"), "the Map's tasks came without their threads");
        var lanes = (await page.Locator("#stream").GetAttributeAsync("data-lanes") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var threadsByWorker = lanes.GroupBy(l => l[..l.LastIndexOf('/')]).ToDictionary(g => g.Key, g => g.Select(l => l[(l.LastIndexOf('/') + 1)..]).Order().ToList());
        Assert.True(threadsByWorker.Count == 2 && threadsByWorker.Values.All(t => t.SequenceEqual(["0", "1"])),
            $"the task stream's thread lanes were {string.Join(", ", lanes)}: not threads 0 and 1 of both workers");

        // A failing task: its error, with its key and the remote message, in the list.
        var failing = pool.Submit(Explode);
        await Assert.ThrowsAsync<RemoteTaskException>(async () => await failing);
        var error = page.Locator($"#errors .error[data-key='{failing.Key}']");
        await Expect(error).ToHaveCountAsync(1, wait);
        await Expect(error).ToContainTextAsync("this task fails on purpose");
        await Expect(error).ToContainTextAsync("InvalidOperationException");

        // The event log has both workers joining.
        await Expect(page.Locator("#events li[data-kind='joined']")).ToHaveCountAsync(2);

        await SaveScreenshotAsync(page);
        lock (consoleErrors) Assert.True(consoleErrors.Count == 0, $"the page logged errors: {string.Join(Environment.NewLine, consoleErrors)}");
        await page.CloseAsync();
    }

    /// <summary>
    /// Keeps a screenshot beside the test's output; with DISTRIBUTED_UPDATE_SCREENSHOT=1, also as the
    /// README's docs/dashboard.png.
    /// </summary>
    private static async Task SaveScreenshotAsync(IPage page)
    {
        var shot = await page.ScreenshotAsync(new() { FullPage = true, Path = Path.Combine(AppContext.BaseDirectory, "dashboard.png") });
        if (Environment.GetEnvironmentVariable("DISTRIBUTED_UPDATE_SCREENSHOT") != "1") return;
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Distributed.sln"))) root = root.Parent;
        if (root is not null) await File.WriteAllBytesAsync(Path.Combine(root.FullName, "docs", "dashboard.png"), shot);
    }
}

using System.Text.Json;
using Distributed.Hosting;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Programs;

/// <summary>The programs' log (--log-level, --log-format): the center's lines for a worker's join and leave, as JSON.</summary>
[ProcessTier]
public sealed class LoggingProgramTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Dcenter_logs_a_workers_join_and_leave_as_json_lines_with_its_name_and_address()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString(), "--log-format", "json", "--log-level", "information");
        await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Slow);
        var worker = await processes.StartWorkerAsync($"127.0.0.1:{port}", "--name", "logged-worker");
        var workerAddress = worker.Output.Single(l => l.StartsWith("Start worker at:", StringComparison.Ordinal))["Start worker at:".Length..].Trim();

        await center.WaitForLineAsync(l => Entry(l) is { } e && e.Message.Contains("joined", StringComparison.Ordinal), Slow);
        await worker.StopAsync(TimeSpan.FromSeconds(15));
        await center.WaitForLineAsync(l => Entry(l) is { } e && e.Message.Contains("left", StringComparison.Ordinal), Slow);

        var entries = center.Output.Select(Entry).OfType<LogEntry>().ToList();
        var joined = Assert.Single(entries, e => e.Message.Contains("joined", StringComparison.Ordinal));
        var left = Assert.Single(entries, e => e.Message.Contains("left", StringComparison.Ordinal));
        foreach (var entry in new[] { joined, left })
        {
            Assert.Equal("Information", entry.LogLevel);
            Assert.Equal("Distributed.Center.CenterActor", entry.Category);
            Assert.Contains("logged-worker", entry.Message, StringComparison.Ordinal);
            Assert.Contains(workerAddress, entry.Message, StringComparison.Ordinal);
            Assert.True(DateTimeOffset.TryParse(entry.Timestamp, System.Globalization.CultureInfo.InvariantCulture, out _), entry.Timestamp);
        }
        // Every log line is JSON: only the programs' own announcements are plain text.
        Assert.All(center.Output.Where(l => !l.StartsWith("Start center at", StringComparison.Ordinal) && !l.StartsWith("Dashboard at", StringComparison.Ordinal)),
            l => Assert.NotNull(Entry(l)));
    }

    [Fact]
    public async Task At_warning_level_dcenter_does_not_log_a_join()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString(), "--log-level", "warning");
        await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Slow);
        var worker = await processes.StartWorkerAsync($"127.0.0.1:{port}", "--log-level", "warning");
        await worker.StopAsync(TimeSpan.FromSeconds(15));
        await center.StopAsync(TimeSpan.FromSeconds(15));

        Assert.DoesNotContain(center.Output, l => l.Contains("joined", StringComparison.Ordinal) || l.Contains(" info ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unknown_log_level_is_refused_naming_the_levels()
    {
        var run = await RunToExitAsync("dcenter", Slow, "--host", "127.0.0.1", "--log-level", "loud");

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains("loud", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("information", run.StandardError, StringComparison.Ordinal);
        AssertNoStackTrace(run.Lines, "dcenter");
    }

    private sealed record LogEntry(string Timestamp, string LogLevel, string Category, string Message);

    private static LogEntry? Entry(string line)
    {
        if (!line.StartsWith('{')) return null;
        try
        {
            return JsonSerializer.Deserialize<LogEntry>(line);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

using System.Diagnostics;
using System.Text.RegularExpressions;
using Distributed.Hosting;

namespace Distributed.Tests.Programs;

/// <summary>A LocalCluster for the progress-bar tests, shared by both: starting one is most of their time.</summary>
public sealed class ProgressBarCluster : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);

    public async Task DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
    }
}

/// <summary>
/// Distributed.Terminal's console progress bars, from a real client program (Distributed.TestClient
/// progress) on a real cluster: in a terminal (a tmux pane) the Map's bar advances and reaches 100%,
/// then the futures' bar does; with its output redirected the program prints its results and no bar,
/// no escape code.
/// </summary>
[ProcessTier]
public sealed partial class ProgressBarTests(ProgressBarCluster shared, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<ProgressBarCluster>
{
    private const int Tasks = 40;
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    [SkippableFact]
    public async Task In_a_terminal_the_bar_advances_and_reaches_100_percent()
    {
        Skip.If(!File.Exists("/usr/bin/tmux") && !File.Exists("/bin/tmux"), "tmux is not installed (.ci/run installs it from Debian)");
        // A server of our own (its own socket): kill-server at the end stops only what this test started.
        var socket = $"distributed-progress-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var program = Path.Combine(AppContext.BaseDirectory, "Distributed.TestClient.dll");
        var environment = shared.Cluster.ClientEnvironment.SelectMany(e => new[] { "-e", $"{e.Key}={e.Value}" });
        // The pane stays after the program ends (exec sleep), so its last screen can be read.
        var command = $"dotnet '{program}' progress {shared.Cluster.Address} {Tasks}; echo EXITED $?; exec sleep 600";
        await Tmux(socket, ["-f", "/dev/null", "new-session", "-d", "-s", "bars", "-x", "110", "-y", "15", .. environment, command]);
        try
        {
            var seen = new SortedSet<int>();
            var screen = "";
            var waited = Stopwatch.StartNew();
            while (!screen.Contains("EXITED", StringComparison.Ordinal))
            {
                Assert.True(waited.Elapsed < Slow, $"the program did not end within {Slow.TotalSeconds:0} s; its screen:\n{screen}");
                screen = await Tmux(socket, ["capture-pane", "-p", "-t", "bars"]);
                if (MapBarPercent(screen) is { } percent) seen.Add(percent);
                await Task.Delay(40);
            }
            output.WriteLine($"percentages seen: {string.Join(", ", seen)}; the last screen:\n{screen}");
            Assert.Contains("EXITED 0", screen);
            Assert.Contains($"RESULT {Enumerable.Range(0, Tasks).Sum()}", screen);
            Assert.Contains($"FUTURES {Tasks}", screen);
            Assert.Equal(100, seen.Max);
            Assert.True(seen.Any(p => p is > 0 and < 100), $"the bar never stood between 0% and 100%; seen: {string.Join(", ", seen)}\n{screen}");
            Assert.Matches($@"sleepy map .*100% +{Tasks}/{Tasks}", screen);
            Assert.Matches($@"futures .*100% +{Tasks}/{Tasks}", screen);
        }
        finally
        {
            await Tmux(socket, ["kill-server"], mayFail: true);
        }
    }

    [Fact]
    public async Task With_output_redirected_it_prints_no_bar_and_no_escape_code()
    {
        var client = ClusterProcess.Start(AppContext.BaseDirectory, "Distributed.TestClient", ["progress", shared.Cluster.Address, Tasks.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            shared.Cluster.ClientEnvironment);
        using var timeout = new CancellationTokenSource(Slow);
        try { await client.WaitForExitAsync(timeout.Token); }
        finally { if (!client.HasExited) client.Kill(); }

        var output = string.Join("\n", client.Output);
        Assert.Equal(0, client.ExitCode);
        Assert.DoesNotContain('\u001b', output);
        Assert.DoesNotContain("sleepy map", output);
        Assert.DoesNotContain("%", output);
        Assert.Contains($"RESULT {Enumerable.Range(0, Tasks).Sum()}", client.Output);
        Assert.Contains($"FUTURES {Tasks}", client.Output);
    }

    /// <summary>The percentage on the Map's bar line, if it is on the screen.</summary>
    private static int? MapBarPercent(string screen) =>
        MapBarLine().Match(screen) is { Success: true } match ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;

    [GeneratedRegex(@"sleepy map\S*\s.*?(\d+)%")]
    private static partial Regex MapBarLine();

    private static async Task<string> Tmux(string socket, IEnumerable<string> arguments, bool mayFail = false)
    {
        var info = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-L");
        info.ArgumentList.Add(socket);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var tmux = Process.Start(info)!;
        var output = tmux.StandardOutput.ReadToEndAsync();
        var error = tmux.StandardError.ReadToEndAsync();
        await tmux.WaitForExitAsync();
        if (tmux.ExitCode != 0 && !mayFail) Assert.Fail($"tmux {string.Join(' ', info.ArgumentList)} failed ({tmux.ExitCode}): {await error}");
        return await output;
    }
}

using Distributed.Hosting;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Programs;

/// <summary>The dcenter program, run as a real process.</summary>
[ProcessTier]
public sealed class CenterProgramTests
{
    [Fact]
    public async Task Dcenter_announces_its_address_once_it_accepts_connections()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString());

        var line = await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

        Assert.Equal($"Start center at 127.0.0.1:{port}", line);
        Assert.True(await AcceptsConnectionsAsync(port), $"dcenter announced 127.0.0.1:{port} but nothing accepts connections there.");
        Assert.Single(center.Output, l => l.StartsWith("Start center at", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(SigTerm, "SIGTERM")]
    [InlineData(SigInt, "SIGINT (Ctrl+C)")]
    public async Task Dcenter_stops_cleanly_with_exit_code_0_on_a_stop_signal(int signal, string name)
    {
        await using var processes = new ProgramProcesses();
        var (center, _) = await processes.StartCenterAsync();

        Assert.Equal(0, center.Signal(signal));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await center.WaitForExitAsync(deadline.Token);

        Assert.True(center.ExitCode == 0, $"dcenter exited with code {center.ExitCode} on {name}; expected 0. Its output:{Environment.NewLine}{Show(center.Output)}");
        AssertNoStackTrace(center.Output, "dcenter");
    }

    [Fact]
    public async Task Dcenter_on_a_port_in_use_says_so_and_exits_with_an_error()
    {
        var port = LocalCluster.FreePort();
        using var held = Hold(port);

        var run = await RunToExitAsync("dcenter", TimeSpan.FromSeconds(60), "--host", "127.0.0.1", "--port", port.ToString());

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains(port.ToString(), run.StandardError);
        Assert.Contains("in use", run.StandardError);
        AssertNoStackTrace(run.Lines, "dcenter");
        Assert.DoesNotContain("Start center at", run.StandardOutput);
    }

    [Theory]
    [InlineData("99999")]
    [InlineData("0")]
    [InlineData("-1")]
    public async Task Dcenter_with_a_port_out_of_range_says_so_and_exits_with_an_error(string port)
    {
        var run = await RunToExitAsync("dcenter", TimeSpan.FromSeconds(60), "--host", "127.0.0.1", "--port", port);

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains(port, run.StandardError);
        Assert.Contains("port", run.StandardError);
        AssertNoStackTrace(run.Lines, "dcenter");
    }
}

using System.Text.Json;
using Akka.Configuration;
using Distributed.Hosting;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Programs;

/// <summary>--config FILE, DISTRIBUTED__ environment variables and `config`, on the real programs.</summary>
[ProcessTier]
public sealed class ConfigurationProgramTests : IDisposable
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"distributed-config-{Guid.NewGuid():N}.hocon");

    [Theory]
    [InlineData("dcenter")]
    [InlineData("dworker")]
    public async Task Config_prints_the_settings_in_effect_with_the_environment_over_the_file(string program)
    {
        await File.WriteAllTextAsync(_file, "distributed.logging.level = warning\ndistributed.logging.format = json\nakka.cluster.gossip-interval = 300ms\n");
        var environment = new Dictionary<string, string> { ["DISTRIBUTED__LOGGING__LEVEL"] = "debug" };
        if (program == "dcenter") environment["DISTRIBUTED__CENTER__RETIREMENT_TIMEOUT"] = "off";

        var run = await RunToExitWithAsync(null, environment, program, Slow, "config", "--config", _file);

        Assert.True(run.ExitCode == 0, run.ToString());
        var printed = ConfigurationFactory.ParseString(run.StandardOutput);
        Assert.Equal("debug", printed.GetString("distributed.logging.level"));
        Assert.Equal("json", printed.GetString("distributed.logging.format"));
        Assert.Equal(TimeSpan.FromMilliseconds(300), printed.GetTimeSpan("akka.cluster.gossip-interval"));
        Assert.Equal(program == "dcenter" ? "center" : "worker", Assert.Single(printed.GetStringList("akka.cluster.roles")));
        if (program == "dcenter") Assert.Equal("off", printed.GetString("distributed.center.retirement-timeout"));
    }

    [Fact]
    public async Task The_command_line_wins_over_the_environment_which_wins_over_the_file_in_a_running_center()
    {
        // The file asks for JSON at warnings, the environment for debug, the command line for information:
        // JSON lines (the file), the join (information, the command line), and no debug line (the environment lost).
        await File.WriteAllTextAsync(_file, "distributed.logging.level = warning\ndistributed.logging.format = json\n");
        var environment = new Dictionary<string, string> { ["DISTRIBUTED__LOGGING__LEVEL"] = "debug" };
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var center = processes.StartWith(null, environment, "dcenter", "--host", "127.0.0.1", "--port", port.ToString(), "--config", _file, "--log-level", "information");
        await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Slow);

        await processes.StartWorkerAsync($"127.0.0.1:{port}");
        await center.WaitForLineAsync(l => l.StartsWith('{') && l.Contains("joined", StringComparison.Ordinal), Slow);

        var levels = center.Output.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("LogLevel").GetString()).ToList();
        Assert.Contains("Information", levels);
        Assert.DoesNotContain("Debug", levels);
    }

    [Fact]
    public async Task A_config_file_that_cannot_be_read_or_sets_a_bad_value_stops_dcenter_in_one_line()
    {
        var missing = await RunToExitAsync("dcenter", Slow, "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString(), "--config", _file);
        await File.WriteAllTextAsync(_file, "distributed.logging.level = loud\n");
        var bad = await RunToExitAsync("dcenter", Slow, "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString(), "--config", _file);

        foreach (var (run, expected) in new[] { (missing, $"error: The configuration file {_file} cannot be read"), (bad, "error: 'loud' is not a log level") })
        {
            Assert.True(run.ExitCode != 0, run.ToString());
            var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith(expected, error, StringComparison.Ordinal);
            Assert.DoesNotContain("Start center at", run.StandardOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_bad_setting_in_the_environment_stops_dcenter_naming_it()
    {
        var environment = new Dictionary<string, string> { ["DISTRIBUTED__CENTER__UNCLAIMED_KEYS_GRACE"] = "soon" };

        var run = await RunToExitWithAsync(null, environment, "dcenter", Slow, "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString());

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains("distributed.center.unclaimed-keys-grace", run.StandardError, StringComparison.Ordinal);
        AssertNoStackTrace(run.Lines, "dcenter");
    }

    public void Dispose() => File.Delete(_file);
}

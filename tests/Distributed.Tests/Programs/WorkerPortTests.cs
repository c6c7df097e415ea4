using Distributed.Hosting;
using Distributed.Protocol;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Programs;

/// <summary>Workers that choose their ports at the same moment, and a worker that can bind none.</summary>
[ProcessTier]
public sealed class WorkerPortTests
{
    private const string StartLine = "Start worker at:            ";

    [Fact]
    public async Task Four_dworkers_started_at_once_without_a_port_each_bind_a_port_of_their_own_and_register()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 0);
        await using var pool = await cluster.ConnectAsync();
        var names = Enumerable.Range(0, 4).Select(i => $"together-{i}-{Guid.NewGuid():N}").ToList();
        var workers = names.Select(name => ClusterProcess.Start(Bin, "dworker", [cluster.Address, "--host", "127.0.0.1", "--nthreads", "1", "--name", name], cluster.ClientEnvironment)).ToList();
        try
        {
            var lines = await Task.WhenAll(workers.Select(w => w.WaitForLineAsync(l => l.StartsWith(StartLine, StringComparison.Ordinal), TimeSpan.FromSeconds(90))));
            var ports = lines.Select(l => HostPort.Parse(l[StartLine.Length..]).Port).ToList();

            Assert.True(ports.Distinct().Count() == 4, $"The workers printed ports {string.Join(", ", ports)}; each should have its own.");
            await WaitUntilAsync(() => names.All(n => pool.Workers().Any(w => w.Name == n)), TimeSpan.FromSeconds(60),
                () => $"The center should list all four workers; it lists {string.Join(", ", pool.Workers().Select(w => $"{w.Name}@{w.Address}"))}. Outputs:{Environment.NewLine}" +
                    string.Join(Environment.NewLine, workers.Select(w => Show(w.Output))));
            var listed = names.Select(n => pool.Workers().Single(w => w.Name == n).Address).ToList();
            Assert.Equal(ports.Select(p => $"127.0.0.1:{p}"), listed);
            Assert.Equal(Enumerable.Range(1, 64), await pool.GatherAsync(pool.Map(x => x + 1, Enumerable.Range(0, 64))));
        }
        finally
        {
            await Task.WhenAll(workers.Select(w => w.StopAsync(TimeSpan.FromSeconds(10))));
        }
    }

    [Fact]
    public async Task Dworker_on_an_address_of_another_machine_says_it_cannot_listen_there_and_exits_with_an_error()
    {
        // 192.0.2.1 is reserved for documentation (TEST-NET-1): no machine has it. No port of it can
        // be bound, so a worker without --port must neither loop over them nor crash with a trace.
        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), $"127.0.0.1:{LocalCluster.FreePort()}", "--host", "192.0.2.1");

        Assert.True(run.ExitCode is not 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error:", error);
        Assert.Contains("192.0.2.1", error);
        AssertNoStackTrace(run.Lines, "dworker");
        Assert.DoesNotContain(StartLine.Trim(), run.StandardOutput);
    }
}

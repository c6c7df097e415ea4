using Distributed.Hosting;
using Distributed.Protocol.Security;
using Distributed.Tests.Programs;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Network;

/// <summary>
/// Issue 16 across network namespaces, with credentials: a center that listens on 0.0.0.0 and advertises its
/// namespace's address; workers and a client that name it <c>mhcenter</c>, a name each namespace's hosts file
/// gives the center's address (<see cref="NamespaceNetwork.AddHostName"/>); a worker on 0.0.0.0 that
/// advertises the address routing to the center, with a fixed data port; one told its address with
/// <c>--advertise</c> and given a range of data ports. The client runs the quickstart and a graph, which
/// fetch values from both workers' data channels. Skipped, saying why, where namespaces cannot be made.
/// </summary>
[ProcessTier]
public sealed class NamedCenterAcrossHostsTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task Workers_and_a_client_name_a_center_on_every_address_by_a_host_name_and_fixed_data_ports_serve()
    {
        var unavailable = NamespaceNetwork.WhyUnavailable();
        Skip.If(unavailable is not null, unavailable);
        using var network = NamespaceNetwork.Create("center", "worker1", "worker2", "client");
        network.AddHostName("mhcenter", "center");
        var credentials = Path.Combine(Path.GetTempPath(), "distributed-named-center-" + Guid.NewGuid().ToString("N"));
        try
        {
            var created = await RunToExitAsync("dcenter", Slow, "credentials", "create", credentials);
            Assert.True(created.ExitCode == 0, created.ToString());
            var environment = new Dictionary<string, string> { [ClusterCredentials.EnvironmentVariable] = credentials };
            await using var processes = new ProgramProcesses();

            var port = LocalCluster.FreePort();
            var center = processes.StartWith(network.Exec("center"), environment, "dcenter", "--host", "0.0.0.0", "--port", port.ToString(), "--dashboard-port", "0");
            var started = await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Slow);
            Assert.Equal($"Start center at {network.Address("center")}:{port} (listening on 0.0.0.0, every address of this machine; " +
                $"{network.Address("center")} is its primary address: choose another with --advertise)", started);

            var dataPort = LocalCluster.FreePort();
            var firstDataPorts = LocalCluster.FreePort();
            var workers = await Task.WhenAll(
                StartWorkerAsync(processes, network, "worker1", environment, $"mhcenter:{port}", "--host", "0.0.0.0", "--data-port", dataPort.ToString()),
                StartWorkerAsync(processes, network, "worker2", environment, $"mhcenter:{port}", "--host", "0.0.0.0", "--advertise", network.Address("worker2"),
                    "--data-ports", $"{firstDataPorts}-{firstDataPorts + 9}"));
            Assert.Contains($"Data channel at:            {network.Address("worker1")}:{dataPort}", workers[0].Output);
            Assert.Contains(workers[0].Output, l => l.StartsWith($"Start worker at:            {network.Address("worker1")}:", StringComparison.Ordinal)
                && l.EndsWith($"(listening on 0.0.0.0, every address of this machine; {network.Address("worker1")} routes to the center: choose another with --advertise)", StringComparison.Ordinal));
            Assert.All(workers, w => Assert.Contains($"Registered with center at:  {network.Address("center")}:{port}", w.Output));

            var run = await RunToExitWithAsync(network.Exec("client"), environment, "Distributed.NetworkProbe", TimeSpan.FromSeconds(120), "client", $"mhcenter:{port}", "--once");

            Assert.True(run.ExitCode == 0, run.ToString());
            var lines = run.StandardOutput.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
            Assert.Equal(
            [
                "RESULT quickstart-total -285",
                "RESULT quickstart-gather 0,1,4,9,16,25,36,49,64,81",
                "RESULT graph 3,5",
                $"RESULT stored {string.Join(",", Enumerable.Range(0, 20).Select(x => x * 1000 + 7))}",
            ], AcrossHostsFixture.Results(lines));
            // Both workers advertise their namespace's address (never 0.0.0.0), worker1's data channel on its fixed port.
            var data = lines.Where(l => l.StartsWith("WORKER ", StringComparison.Ordinal))
                .Select(l => l.Split(' ').Single(p => p.StartsWith("data=", StringComparison.Ordinal))["data=".Length..]).Order().ToList();
            Assert.Equal(2, data.Count);
            Assert.Equal($"{network.Address("worker1")}:{dataPort}", data[0]);
            Assert.StartsWith($"{network.Address("worker2")}:", data[1]);
            Assert.InRange(int.Parse(data[1][(data[1].LastIndexOf(':') + 1)..]), firstDataPorts, firstDataPorts + 9);
        }
        finally
        {
            if (Directory.Exists(credentials)) Directory.Delete(credentials, recursive: true);
        }
    }

    private static async Task<ClusterProcess> StartWorkerAsync(ProgramProcesses processes, NamespaceNetwork network, string node,
        IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var worker = processes.StartWith(network.Exec(node), environment, "dworker",
            [.. arguments, "--port", LocalCluster.FreePort().ToString(), "--nthreads", "1"]);
        await worker.WaitForLineAsync(l => l.StartsWith("Registered with center at:", StringComparison.Ordinal), Slow);
        return worker;
    }
}

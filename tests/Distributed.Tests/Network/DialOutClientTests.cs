using Distributed.Hosting;
using Distributed.Tests.Programs;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Network;

/// <summary>
/// Issue 16, "clients that only dial out": a client in a network namespace whose firewall drops every
/// inbound connection, as a laptop behind NAT is, uses a cluster in three other namespaces: the quickstart
/// (Map, Apply, Gather), a graph, values it stored, code the workers have never seen (the probe's own
/// lambdas reach them through the center), and the same again after the center was killed and restarted.
/// A client that joins the cluster as a member cannot: the center and the workers must connect to it.
/// </summary>
[ProcessTier]
public sealed class DialOutClientTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(120);

    [SkippableFact]
    public async Task A_client_whose_namespace_drops_inbound_connections_maps_gathers_ships_code_and_survives_a_center_restart()
    {
        var unavailable = NamespaceNetwork.WhyUnavailable() ?? NamespaceNetwork.WhyNoFirewall();
        Skip.If(unavailable is not null, unavailable);
        using var network = NamespaceNetwork.Create("center", "worker1", "worker2", "client");
        network.DropInboundConnections("client");
        // The firewall holds (no answer from the client's namespace) where the network itself answers (a worker's kernel refuses).
        Assert.Equal("no answer", network.TryConnect("center", network.Address("client"), 1));
        Assert.Equal("refused", network.TryConnect("center", network.Address("worker1"), 1));
        var droppedBefore = network.DroppedInboundConnections("client");

        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var center = $"{network.Address("center")}:{port}";
        string[] centerArguments = ["--host", network.Address("center"), "--port", port.ToString(), "--insecure"];
        var firstCenter = processes.StartWith(network.Exec("center"), null, "dcenter", centerArguments);
        await firstCenter.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Slow);
        var workers = await Task.WhenAll(new[] { "worker1", "worker2" }.Select(async node =>
        {
            var worker = processes.StartWith(network.Exec(node), null, "dworker", center,
                "--host", network.Address(node), "--port", LocalCluster.FreePort().ToString(), "--nthreads", "1", "--insecure");
            await worker.WaitForLineAsync(l => l.StartsWith("Registered with center at:", StringComparison.Ordinal), Slow);
            return worker;
        }));

        await using var client = ProbeClient.Start(network.Exec("client"), new Dictionary<string, string>(), "client", center);
        var first = await client.AnswerAsync(0, Slow);
        Assert.True(AcrossHostsTests.ExpectedRound.SequenceEqual(AcrossHostsFixture.Results(first)), Show(client.Output));
        // The probe's code reached both workers, which never connected to the client.
        var stats = await client.AskAsync("stats", Slow);
        var shipped = stats.Where(l => l.StartsWith("STATS ", StringComparison.Ordinal)).ToList();
        Assert.True(shipped.Count == 2 && shipped.All(l => !l.EndsWith(" assemblies=0", StringComparison.Ordinal)), Show(stats));

        firstCenter.Kill();
        await firstCenter.WaitForExitAsync();
        var secondCenter = processes.StartWith(network.Exec("center"), null, "dcenter", centerArguments);
        await secondCenter.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Slow);

        // The client reconnects over a new connection of its own, and its stored values are claimed again
        // once the workers rejoin; a round that started while it reconnected fails and is asked again.
        var restarted = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var again = await client.AskAsync("round", Slow);
            if (AcrossHostsTests.ExpectedRound.SequenceEqual(AcrossHostsFixture.Results(again))) break;
            if (restarted.Elapsed > Slow)
                Assert.Fail($"after the center restart:{Environment.NewLine}{Show(again)}{Environment.NewLine}the client:{Environment.NewLine}{Show(client.Output)}" +
                    $"{Environment.NewLine}the workers:{Environment.NewLine}{Show(workers.SelectMany(w => w.Output.TakeLast(20)))}");
            await Task.Delay(200); // a poll: the next round waits for the reconnection anyway
        }
        // Not by luck of timing (Akka also answers over a connection the peer opened): nobody tried to connect to the client.
        Assert.Equal(droppedBefore, network.DroppedInboundConnections("client"));
    }
}

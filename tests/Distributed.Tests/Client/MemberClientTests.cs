using Distributed.Hosting;

namespace Distributed.Tests.Client;

/// <summary>A client in member mode (<c>distributed.client.connection = member</c>), as a real program: it joins the cluster once its probe found the center, and works as a dial-out client does.</summary>
[ProcessTier]
public sealed class MemberClientTests
{
    private const int Tasks = 8;

    [Fact]
    public async Task A_member_client_joins_the_cluster_and_runs_a_Map_and_futures()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1);
        var environment = new Dictionary<string, string>(cluster.ClientEnvironment)
        {
            ["DISTRIBUTED__CLIENT__CONNECTION"] = "member",
            [Protocol.Hosting.StartTrace.EnvironmentVariable] = "1", // its start trace says how it connected
        };

        var client = ClusterProcess.Start(AppContext.BaseDirectory, "Distributed.TestClient", ["progress", cluster.Address, Tasks.ToString(System.Globalization.CultureInfo.InvariantCulture)], environment);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await client.WaitForExitAsync(timeout.Token); }
        finally { if (!client.HasExited) client.Kill(); }

        var output = string.Join("\n", client.Output);
        Assert.True(client.ExitCode == 0, output);
        Assert.Contains($"RESULT {Enumerable.Range(0, Tasks).Sum()}", client.Output);
        Assert.Contains($"FUTURES {Tasks}", client.Output);
        // It was a member: its node became Up in the cluster (a dial-out client finds the center instead).
        Assert.Contains(client.Output, line => line.Contains("client: member up", StringComparison.Ordinal));
        Assert.DoesNotContain(client.Output, line => line.Contains("client: center found", StringComparison.Ordinal));
    }
}

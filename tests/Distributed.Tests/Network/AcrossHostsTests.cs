using Distributed.Hosting;
using Distributed.Protocol.Security;
using Distributed.Tests.Programs;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Network;

/// <summary>
/// A cluster with credentials across five network namespaces (center, two workers, a client, an attacker),
/// each with an address of its own on a private bridge: the processes reach each other over a real
/// network path, not loopback. The client keeps values stored for the whole class and runs the quickstart
/// and a graph. Where namespaces cannot be made (not root, no iproute2), every test is skipped saying why.
/// </summary>
public sealed class AcrossHostsFixture : IAsyncLifetime
{
    public static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    private readonly ProgramProcesses _processes = new();

    /// <summary>Why the tests are skipped here, or null.</summary>
    public string? Unavailable { get; private set; }

    internal NamespaceNetwork Network { get; private set; } = null!;
    public string CredentialsDirectory { get; } = Path.Combine(Path.GetTempPath(), "distributed-netns-credentials-" + Guid.NewGuid().ToString("N"));
    public ClusterCredentials OtherCluster { get; } = ClusterCredentials.CreateTemporary();
    public ClusterProcess Center { get; private set; } = null!;
    public IReadOnlyList<ClusterProcess> Workers { get; private set; } = [];
    internal ProbeClient Client { get; private set; } = null!;
    public string CenterAddress { get; private set; } = "";
    /// <summary>The workers' Akka and data endpoints as the center lists them, "host:port".</summary>
    public IReadOnlyList<string> WorkerAkka { get; private set; } = [];
    public IReadOnlyList<string> WorkerData { get; private set; } = [];
    public IReadOnlyList<string> StoredKeys { get; private set; } = [];
    /// <summary>What the client printed for its first quickstart and graph.</summary>
    public IReadOnlyList<string> FirstRound { get; private set; } = [];
    public IReadOnlyList<string> ClientStartLines { get; private set; } = [];

    public IReadOnlyDictionary<string, string> ClientEnvironment => new Dictionary<string, string> { [ClusterCredentials.EnvironmentVariable] = CredentialsDirectory };

    public async Task InitializeAsync()
    {
        Unavailable = NamespaceNetwork.WhyUnavailable();
        if (Unavailable is not null) return;
        try
        {
            Network = NamespaceNetwork.Create("center", "worker1", "worker2", "client", "attacker");
        }
        catch (InvalidOperationException e)
        {
            Unavailable = $"network namespaces cannot be made here: {e.Message}";
            return;
        }
        // The credentials of the cluster, made by the command an operator would use.
        var created = await RunToExitAsync("dcenter", Slow, "credentials", "create", CredentialsDirectory);
        Assert.True(created.ExitCode == 0, created.ToString());

        // Ports are free in a fresh namespace; chosen free on the host too, as a worker names its private folders after its port.
        var centerPort = LocalCluster.FreePort();
        CenterAddress = $"{Network.Address("center")}:{centerPort}";
        Center = _processes.StartWith(Network.Exec("center"), null, "dcenter",
            "--host", Network.Address("center"), "--port", centerPort.ToString(), "--credentials", CredentialsDirectory);
        await Center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Slow);
        Workers = await Task.WhenAll(new[] { "worker1", "worker2" }.Select(async node =>
        {
            var worker = _processes.StartWith(Network.Exec(node), null, "dworker", CenterAddress,
                "--host", Network.Address(node), "--port", LocalCluster.FreePort().ToString(), "--nthreads", "1", "--credentials", CredentialsDirectory);
            await worker.WaitForLineAsync(l => l.StartsWith("Registered with center at:", StringComparison.Ordinal), Slow);
            return worker;
        }));

        Client = ProbeClient.Start(Network.Exec("client"), ClientEnvironment, "client", CenterAddress);
        ClientStartLines = await Client.AnswerAsync(0, TimeSpan.FromSeconds(120));
        StoredKeys = Value(ClientStartLines, "STORED").Split(',');
        var workers = ClientStartLines.Where(l => l.StartsWith("WORKER ", StringComparison.Ordinal)).Select(l => l.Split(' ')).ToList();
        WorkerAkka = workers.Select(w => w.Single(p => p.StartsWith("akka=", StringComparison.Ordinal))["akka=".Length..]).ToList();
        WorkerData = workers.Select(w => w.Single(p => p.StartsWith("data=", StringComparison.Ordinal))["data=".Length..]).ToList();
        FirstRound = Results(ClientStartLines);
    }

    /// <summary>The rest of the first line that starts with <paramref name="tag"/>.</summary>
    public static string Value(IEnumerable<string> lines, string tag) =>
        lines.FirstOrDefault(l => l.StartsWith(tag + " ", StringComparison.Ordinal))?[(tag.Length + 1)..]
        ?? throw new InvalidOperationException($"no {tag} line in:{Environment.NewLine}{Show(lines)}");

    public static IReadOnlyList<string> Results(IEnumerable<string> lines) => lines.Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).ToList();

    public async Task DisposeAsync()
    {
        try
        {
            if (Client is not null) await Client.DisposeAsync();
            await _processes.DisposeAsync();
        }
        finally
        {
            Network?.Dispose();
            OtherCluster.Dispose();
            foreach (var directory in new[] { CredentialsDirectory, OtherCluster.Directory! })
                if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}

/// <summary>
/// Issue 10, "proven across real hosts": with credentials the quickstart and a graph run across network
/// namespaces; an attacker in a namespace of its own, without credentials, with a certificate of another
/// authority, or speaking plain TCP to every port, runs no task, reads no value and deletes nothing, and
/// every node keeps serving. Controls: the same network runs an --insecure cluster, and a center that binds
/// a namespace address without credentials refuses to start.
/// </summary>
[ProcessTier]
public sealed class AcrossHostsTests(AcrossHostsFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<AcrossHostsFixture>
{
    private static readonly TimeSpan Slow = AcrossHostsFixture.Slow;

    internal static readonly string[] ExpectedRound =
    [
        "RESULT quickstart-total -285",
        "RESULT quickstart-gather 0,1,4,9,16,25,36,49,64,81",
        "RESULT graph 3,5",
        $"RESULT stored {string.Join(",", Enumerable.Range(0, 20).Select(x => x * 1000 + 7))}",
    ];

    [SkippableFact]
    public void The_quickstart_and_a_graph_run_across_namespaces_with_credentials()
    {
        Skip.If(fixture.Unavailable is not null, fixture.Unavailable);

        Assert.Equal(ExpectedRound, fixture.FirstRound);
        // The work was spread over the two workers, which listen on their own namespaces' addresses.
        var network = fixture.Network;
        Assert.Equal([network.Address("worker1"), network.Address("worker2")], fixture.WorkerAkka.Select(Host).Order());
        Assert.Equal([network.Address("worker1"), network.Address("worker2")], fixture.WorkerData.Select(Host).Order());
    }

    [SkippableFact]
    public Task An_attacker_without_credentials_runs_nothing_reads_nothing_deletes_nothing() => AttackAsync("none");

    [SkippableFact]
    public Task An_attacker_with_a_certificate_of_another_authority_runs_nothing_reads_nothing_deletes_nothing() => AttackAsync("other-ca");

    [SkippableFact]
    public Task An_attacker_speaking_plain_tcp_to_every_port_runs_nothing_reads_nothing_deletes_nothing() => AttackAsync("plain");

    [SkippableFact]
    public async Task An_insecure_cluster_on_namespace_addresses_works_which_proves_the_network()
    {
        Skip.If(fixture.Unavailable is not null, fixture.Unavailable);
        var network = fixture.Network;
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var center = $"{network.Address("center")}:{port}";
        var started = processes.StartWith(network.Exec("center"), null, "dcenter", "--host", network.Address("center"), "--port", port.ToString(), "--insecure");
        await started.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Slow);
        var worker = processes.StartWith(network.Exec("worker1"), null, "dworker", center,
            "--host", network.Address("worker1"), "--port", LocalCluster.FreePort().ToString(), "--nthreads", "1", "--insecure");
        await worker.WaitForLineAsync(l => l.StartsWith("Registered with center at:", StringComparison.Ordinal), Slow);

        var run = await RunToExitWithAsync(network.Exec("client"), null, "Distributed.NetworkProbe", TimeSpan.FromSeconds(120), "client", center, "--once");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(ExpectedRound, AcrossHostsFixture.Results(run.StandardOutput.Split('\n').Select(l => l.TrimEnd('\r'))));
        Assert.Contains(started.Output, l => l.StartsWith("warning:", StringComparison.Ordinal) && l.Contains("--insecure", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task A_center_binding_a_namespace_address_without_credentials_refuses_to_start_in_one_line()
    {
        Skip.If(fixture.Unavailable is not null, fixture.Unavailable);
        var address = fixture.Network.Address("center");

        var run = await RunToExitWithAsync(fixture.Network.Exec("center"), null, "dcenter", Slow, "--host", address, "--port", LocalCluster.FreePort().ToString());

        Assert.True(run.ExitCode != 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: refusing to listen on " + address, error);
        Assert.Contains("dcenter credentials create DIR", error);
        Assert.Equal("", run.StandardOutput);
    }

    /// <summary>
    /// Runs the attacker in <paramref name="mode"/> against every port of the cluster, then checks on the
    /// cluster itself: no worker ran a task or served a byte, every key is where it was, every node runs,
    /// and the client gets the same results and its stored values again.
    /// </summary>
    private async Task AttackAsync(string mode)
    {
        Skip.If(fixture.Unavailable is not null, fixture.Unavailable);
        AssertEveryNodeRuns("before the attack (an earlier test left it dead)", "");
        var before = await SettledStatsAsync();
        string[] credentials = mode == "other-ca" ? ["--credentials", fixture.OtherCluster.Directory!] : [];

        var attack = await RunToExitWithAsync(fixture.Network.Exec("attacker"), null, "Distributed.NetworkProbe", TimeSpan.FromSeconds(120),
            ["attack", mode, "--center", fixture.CenterAddress, "--akka", string.Join(",", fixture.WorkerAkka), "--data", string.Join(",", fixture.WorkerData),
             "--keys", string.Join(",", fixture.StoredKeys), .. credentials]);

        output.WriteLine(attack.StandardOutput); // what the attacker tried and what each port answered
        Assert.True(attack.ExitCode == 0, attack.ToString());
        AssertEveryNodeRuns("during the attack", attack.ToString());
        var reported = attack.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        var attempts = reported.Where(l => l.StartsWith("ATTEMPT ", StringComparison.Ordinal)).ToList();
        Assert.True(attempts.Count >= 3, $"the attacker tried too little. {attack}");
        Assert.True(AcrossHostsFixture.Value(reported, "SUMMARY") == "pools=0 values=0 valueBytes=0", $"the attacker got in. {attack}");
        // What the cluster itself counted: no task ran, no byte was served, no key moved or vanished.
        var after = await StatsAsync();
        Assert.True(before.SequenceEqual(after),
            $"the workers' counters or holdings changed during the attack.{Environment.NewLine}before:{Environment.NewLine}{Show(before)}{Environment.NewLine}after:{Environment.NewLine}{Show(after)}{Environment.NewLine}{attack}");
        // And the cluster still serves its own client: the same results, the values stored before the attack.
        var again = await fixture.Client.AskAsync("round", TimeSpan.FromSeconds(120));
        Assert.Equal(ExpectedRound, AcrossHostsFixture.Results(again));
    }

    private void AssertEveryNodeRuns(string when, string attack)
    {
        foreach (var node in new[] { fixture.Center }.Concat(fixture.Workers))
            Assert.False(node.HasExited, $"{node.Name} (pid {node.Id}) exited {when}, with code {(node.HasExited ? node.ExitCode : 0)}:{Environment.NewLine}{Show(node.Output.TakeLast(40))}{Environment.NewLine}{attack}");
    }

    /// <summary>The workers' counters and holdings, read twice in a row the same (a spare executor may still be starting after a round).</summary>
    private async Task<IReadOnlyList<string>> SettledStatsAsync()
    {
        // Settled means unchanged for longer than a worker waits before it starts its next spare
        // executor after one was taken: that start changes the counters with no task behind it.
        var quiet = Distributed.Worker.Core.WorkerCore.SpareExecutorDelay + TimeSpan.FromSeconds(1);
        var previous = await StatsAsync();
        var unchangedSince = DateTime.UtcNow;
        for (var reads = 0; reads < 60; reads++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var current = await StatsAsync();
            if (!current.SequenceEqual(previous)) (previous, unchangedSince) = (current, DateTime.UtcNow);
            else if (DateTime.UtcNow - unchangedSince > quiet) return current;
        }
        Assert.Fail($"the workers' counters did not settle before the attack:{Environment.NewLine}{Show(previous)}");
        return previous;
    }

    private async Task<IReadOnlyList<string>> StatsAsync()
    {
        var lines = await fixture.Client.AskAsync("stats", Slow);
        Assert.True(lines.Count(l => l.StartsWith("STATS ", StringComparison.Ordinal)) == 2,
            $"expected the counters of 2 workers:{Environment.NewLine}{Show(lines)}{Environment.NewLine}The client's whole output:{Environment.NewLine}{Show(fixture.Client.Output)}");
        return lines;
    }

    private static string Host(string endpoint) => endpoint[..endpoint.LastIndexOf(':')];
}

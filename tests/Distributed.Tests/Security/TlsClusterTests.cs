using System.Diagnostics;
using Distributed.Dask;
using Distributed.Hosting;
using Distributed.Protocol.Security;
using static Distributed.Tests.Programs.ProgramProcesses;
using Distributed.Protocol;

namespace Distributed.Tests.Security;

/// <summary>A LocalCluster with its own credentials (every connection mutual TLS), shared by the TLS tests.</summary>
public sealed class TlsClusterFixture : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public Pool Pool { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 1);
        Pool = await Cluster.ConnectAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        if (Pool is not null) await Pool.DisposeAsync();
        if (Cluster is not null) await Cluster.DisposeAsync();
    }
}

/// <summary>
/// Akka.Remote over mutual TLS: members with the cluster's credentials work as before; a worker or a
/// client with another cluster's credentials, or none, is refused at once with the reason, on both
/// sides, and the center goes on serving its own.
/// </summary>
[ProcessTier]
public sealed class TlsClusterTests(TlsClusterFixture fixture) : IClassFixture<TlsClusterFixture>, IDisposable
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    private readonly ClusterCredentials _otherCluster = ClusterCredentials.CreateTemporary();

    private LocalCluster Cluster => fixture.Cluster;

    public void Dispose()
    {
        _otherCluster.Dispose();
        Directory.Delete(_otherCluster.Directory!, recursive: true);
    }

    [Fact]
    public async Task A_local_cluster_runs_a_map_and_a_graph_over_tls()
    {
        var credentials = Assert.IsType<ClusterCredentials>(Cluster.Credentials);
        Assert.True(Directory.Exists(credentials.Directory), "the cluster's credentials folder is missing");
        // The center's port speaks TLS, with a certificate of the cluster's own authority.
        var port = int.Parse(Cluster.Address.Split(':')[1]);
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
            await using var tls = new System.Net.Security.SslStream(tcp.GetStream());
            await tls.AuthenticateAsClientAsync(credentials.ClientOptions("127.0.0.1")).WaitAsync(Slow);
            Assert.True(credentials.IsMember(tls.RemoteCertificate, out var reason), reason);
        }

        var squares = await fixture.Pool.MapAsync(x => x * x, Enumerable.Range(0, 10)).WaitAsync(Slow);
        var total = await fixture.Pool.ApplyAsync(xs => xs.Sum(), squares).WaitAsync(Slow);
        Assert.Equal(285, await total.GetAsync().WaitAsync(Slow));
        Func<int, int> inc = x => x + 1;
        var graph = new Graph { ["a"] = 1, ["b"] = (inc, "a") };
        var address = Cluster.Address.Split(':');
        Assert.Equal(2, Scheduler.Get(address[0], int.Parse(address[1]), graph, "b", credentials: credentials));
    }

    [Fact]
    public async Task A_local_cluster_deletes_its_credentials_when_disposed()
    {
        string directory;
        await using (var cluster = await LocalCluster.StartAsync(workers: 0))
        {
            directory = cluster.Credentials!.Directory!;
            Assert.True(File.Exists(Path.Combine(directory, ClusterCredentials.KeyFile)));
        }

        Assert.False(Directory.Exists(directory), $"{directory} is still there after the cluster was disposed");
    }

    [Fact]
    public async Task A_worker_with_another_clusters_credentials_is_refused_says_why_and_the_center_keeps_serving()
    {
        var run = await RunToExitAsync("dworker", Slow, Cluster.Address, "--host", "127.0.0.1", "--nthreads", "1",
            "--port", LocalCluster.FreePort().ToString(), "--credentials", _otherCluster.Directory!);

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(30), $"the refused worker took {run.Elapsed.TotalSeconds:0} s to give up. {run}");
        var error = Assert.Single(run.Lines, l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains($"The TLS handshake with the center at {Cluster.Address} failed", error);
        Assert.Contains("does not chain to this cluster's authority", error);
        AssertNoStackTrace(run.Lines, "dworker");
        await Eventually.TrueAsync(() => Cluster.Center.Output.Any(l => l.Contains("Refused the TLS connection", StringComparison.Ordinal) && l.Contains("does not chain", StringComparison.Ordinal)),
            () => $"the center did not log the refused worker:{Environment.NewLine}{Show(Cluster.Center.Output)}", Slow);
        await AssertTheCenterStillServesItsWorkersAsync();
    }

    [Fact]
    public async Task A_worker_without_credentials_is_refused_and_says_why()
    {
        var run = await RunToExitAsync("dworker", Slow, Cluster.Address, "--host", "127.0.0.1", "--nthreads", "1",
            "--port", LocalCluster.FreePort().ToString());

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(30), $"the refused worker took {run.Elapsed.TotalSeconds:0} s to give up. {run}");
        var error = Assert.Single(run.Lines, l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains($"handshake with the center at {Cluster.Address} failed", error);
        Assert.Contains("credentials", error);
        AssertNoStackTrace(run.Lines, "dworker");
        await Eventually.TrueAsync(() => Cluster.Center.Output.Any(l => l.Contains("Rejected incoming connection", StringComparison.Ordinal)),
            () => $"the center did not log the refused worker:{Environment.NewLine}{Show(Cluster.Center.Output)}", Slow);
        await AssertTheCenterStillServesItsWorkersAsync();
    }

    [Fact]
    public async Task A_pool_without_credentials_fails_to_connect_naming_the_center_and_the_reason()
    {
        var timeout = TimeSpan.FromSeconds(20);
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<CenterUnreachableException>(() => Pool.ConnectAsync(Cluster.Address, null, timeout));

        Assert.True(clock.Elapsed < timeout + TimeSpan.FromSeconds(5), $"ConnectAsync took {clock.Elapsed.TotalSeconds:0} s to fail");
        Assert.Contains($"handshake with the center at {Cluster.Address} failed", error.Message);
        Assert.Contains("credentials", error.Message);
    }

    [Fact]
    public async Task A_pool_with_another_clusters_credentials_fails_to_connect_naming_the_center_and_the_reason()
    {
        var timeout = TimeSpan.FromSeconds(20);
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<CenterUnreachableException>(() => Pool.ConnectAsync(Cluster.Address, _otherCluster, timeout));

        Assert.True(clock.Elapsed < timeout + TimeSpan.FromSeconds(5), $"ConnectAsync took {clock.Elapsed.TotalSeconds:0} s to fail");
        Assert.Contains($"The TLS handshake with the center at {Cluster.Address} failed", error.Message);
        Assert.Contains("does not chain to this cluster's authority", error.Message);
    }

    private async Task AssertTheCenterStillServesItsWorkersAsync()
    {
        Assert.False(Cluster.Center.HasExited, $"the center exited:{Environment.NewLine}{Show(Cluster.Center.Output)}");
        Assert.Equal(2, fixture.Pool.Workers().Count);
        var squares = await fixture.Pool.MapAsync(x => x * x, Enumerable.Range(0, 20)).WaitAsync(Slow);
        Assert.Equal(Enumerable.Range(0, 20).Select(x => x * x), await fixture.Pool.GatherAsync(squares).WaitAsync(Slow));
    }
}

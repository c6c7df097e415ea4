using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Akka.Actor;
using Distributed.Hosting;
using Distributed.Protocol;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Security;

/// <summary><see cref="ClusterConfig.CreateSystem"/> in one process: Akka.Remote over mutual TLS, checked against the cluster's own authority.</summary>
public sealed class TlsActorSystemTests : IAsyncLifetime
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    private readonly ClusterCredentials _cluster = ClusterCredentials.CreateInMemory();
    private readonly ClusterCredentials _stranger = ClusterCredentials.CreateInMemory();
    private readonly InProcessNodes _nodes = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _nodes.DisposeAsync();
        _cluster.Dispose();
        _stranger.Dispose();
    }

    [Fact]
    public async Task Members_with_the_same_credentials_join_over_akka_ssl_tcp()
    {
        var center = new HostPort("127.0.0.1", LocalCluster.FreePort());
        var centerSystem = _nodes.Start(Role.Center, center.Port, center, _cluster);
        var client = _nodes.Start(Role.Client, 0, center, _cluster);

        await Task.WhenAll(TestNetwork.MemberUpAsync(centerSystem), TestNetwork.MemberUpAsync(client)).WaitAsync(Slow);

        Assert.Equal("akka.ssl.tcp", ((ExtendedActorSystem)centerSystem).Provider.DefaultAddress.Protocol);
        Assert.StartsWith("akka.ssl.tcp://", ClusterConfig.SeedAddress(center, secure: true));
        Assert.Equal(2, Akka.Cluster.Cluster.Get(centerSystem).State.Members.Count);
    }

    [Fact]
    public async Task The_center_refuses_a_certificate_of_another_cluster_naming_the_peer_and_the_reason()
    {
        var center = new HostPort("127.0.0.1", LocalCluster.FreePort());
        var refused = new ConcurrentQueue<(string Peer, string Reason)>();
        var centerSystem = _nodes.Start(Role.Center, center.Port, center, _cluster, (peer, reason) => refused.Enqueue((peer, reason)));
        await TestNetwork.MemberUpAsync(centerSystem).WaitAsync(Slow);

        // A client with another cluster's certificate that takes any server certificate: it never closes
        // the connection first, so the center's own check always runs.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, center.Port);
        var local = (IPEndPoint)tcp.Client.LocalEndPoint!;
        await using var tls = new SslStream(tcp.GetStream());
        var options = _stranger.ClientOptions(center.Host);
        options.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null;
        try
        {
            await tls.AuthenticateAsClientAsync(options);
            await tls.ReadAtLeastAsync(new byte[1], 1, throwOnEndOfStream: false).AsTask().WaitAsync(Slow);
        }
        catch (Exception e) when (e is IOException or AuthenticationException) { }

        await Eventually.TrueAsync(() => !refused.IsEmpty, () => "the center did not refuse the stranger", Slow);
        var (peer, reason) = refused.First();
        Assert.EndsWith($":{local.Port}", peer, StringComparison.Ordinal);
        Assert.Contains("does not chain to this cluster's authority", reason);
        Assert.Single(Akka.Cluster.Cluster.Get(centerSystem).State.Members);
    }

    [Fact]
    public async Task A_node_refuses_a_center_of_another_cluster_naming_it_and_the_reason()
    {
        // A TLS listener with another cluster's certificate that takes any client certificate: it never
        // closes the connection first, so the node's own check always runs.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var center = new HostPort("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port);
        var accepting = AcceptAnyClientAsync(listener, _stranger);
        var refused = new ConcurrentQueue<(string Peer, string Reason)>();

        _nodes.Start(Role.Client, 0, center, _cluster, (peer, reason) => refused.Enqueue((peer, reason)));

        await Eventually.TrueAsync(() => !refused.IsEmpty, () => "the node did not refuse the stranger center", Slow);
        var (peer, reason) = refused.First();
        Assert.EndsWith($"@{center}", peer, StringComparison.Ordinal);
        Assert.Contains("does not chain to this cluster's authority", reason);
        listener.Stop();
        await accepting;
    }

    private static async Task AcceptAnyClientAsync(TcpListener listener, ClusterCredentials credentials)
    {
        try
        {
            using var connection = await listener.AcceptTcpClientAsync();
            await using var tls = new SslStream(connection.GetStream());
            var options = credentials.ServerOptions();
            options.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null;
            await tls.AuthenticateAsServerAsync(options);
            // Hold the connection until the node closes it.
            await tls.ReadAtLeastAsync(new byte[1], 1, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or AuthenticationException or SocketException or ObjectDisposedException) { }
    }
}

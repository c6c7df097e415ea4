using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Distributed.Hosting;
using Distributed.Protocol;
using Distributed.Protocol.Remoting;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Security;

/// <summary>
/// Akka.Remote's transport of ours (<see cref="SocketTransport"/>, the default) in one process:
/// what a peer can make it do, and that no failed handshake shuts a node down.
/// </summary>
public sealed class SocketTransportTests : IAsyncLifetime
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    private readonly ClusterCredentials _cluster = ClusterCredentials.CreateInMemory();
    private readonly InProcessNodes _nodes = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _nodes.DisposeAsync();
        _cluster.Dispose();
    }

    private async Task<(ActorSystem System, HostPort Address)> StartCenterAsync(ClusterCredentials? credentials, string settings = "")
    {
        var center = new HostPort("127.0.0.1", LocalCluster.FreePort());
        var system = _nodes.Start(Role.Center, center.Port, center, credentials, settings: settings);
        await TestNetwork.MemberUpAsync(system).WaitAsync(Slow);
        return (system, center);
    }

    [Fact]
    public async Task A_member_of_another_cluster_is_refused_again_and_again_and_neither_node_shuts_down()
    {
        using var stranger = ClusterCredentials.CreateInMemory();
        var refused = new ConcurrentQueue<string>();
        var center = new HostPort("127.0.0.1", LocalCluster.FreePort());
        var centerSystem = _nodes.Start(Role.Center, center.Port, center, _cluster, (_, reason) => refused.Enqueue(reason));
        await TestNetwork.MemberUpAsync(centerSystem).WaitAsync(Slow);

        var strangerSystem = _nodes.Start(Role.Client, 0, center, stranger, (_, reason) => refused.Enqueue(reason));

        // Each side checks the other's certificate once its own handshake messages are out, so either may
        // refuse first and close the connection before the other's check runs: an attempt yields one refusal or two.
        // More than two mean the stranger tried again: a failed handshake failed that association, not
        // its node (Akka's DotNetty transport shuts a node down when an outbound handshake fails).
        await Eventually.TrueAsync(() => refused.Count >= 3, () => $"refusals: {refused.Count}, stranger terminated: {strangerSystem.WhenTerminated.IsCompleted}", Slow);
        Assert.All(refused, reason => Assert.Contains("does not chain to this cluster's authority", reason));
        Assert.False(strangerSystem.WhenTerminated.IsCompleted, $"the stranger's node shut down: {CoordinatedShutdown.Get(strangerSystem).ShutdownReason}");
        Assert.False(centerSystem.WhenTerminated.IsCompleted, $"the center's node shut down: {CoordinatedShutdown.Get(centerSystem).ShutdownReason}");
        Assert.Single(Akka.Cluster.Cluster.Get(centerSystem).State.Members);
    }

    [Fact]
    public async Task The_center_keeps_running_when_a_peer_it_dials_closes_the_connection_mid_handshake()
    {
        var (centerSystem, _) = await StartCenterAsync(_cluster);
        // As a client's node does when it exits while the center dials it, or whatever listens on a lost
        // worker's port now: it takes the connection and closes it. (On Akka's DotNetty transport the
        // center shut itself down here.)
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = 0;
        var closing = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var connection = await listener.AcceptTcpClientAsync();
                    Interlocked.Increment(ref accepted);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        });
        var peer = centerSystem.ActorSelection($"akka.ssl.tcp://{ClusterConfig.SystemName}@127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/user/peer");

        // Akka gates an address after a failed association and dials it again later: a second dial proves
        // the first failure left the node running.
        await Eventually.TrueAsync(() =>
        {
            peer.Tell("hello");
            return Volatile.Read(ref accepted) >= 2;
        }, () => $"the center dialed {accepted} times; terminated: {centerSystem.WhenTerminated.IsCompleted} ({CoordinatedShutdown.Get(centerSystem).ShutdownReason})", Slow);
        Assert.False(centerSystem.WhenTerminated.IsCompleted, $"the center's node shut down: {CoordinatedShutdown.Get(centerSystem).ShutdownReason}");
        Assert.Equal(Akka.Cluster.MemberStatus.Up, Akka.Cluster.Cluster.Get(centerSystem).SelfMember.Status);
        listener.Stop();
        await closing;
    }

    [Fact]
    public async Task A_frame_announced_larger_than_the_maximum_closes_that_connection_and_nothing_else()
    {
        var (system, center) = await StartCenterAsync(credentials: null, "akka.remote.dot-netty.tcp.maximum-frame-size = 1 MiB");
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, center.Port);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, int.MaxValue);
        await socket.SendAsync(length);

        Assert.True(await TestNetwork.ClosedByPeerAsync(socket, Slow), "the node kept a connection that announced a 2 GiB frame");
        Assert.False(system.WhenTerminated.IsCompleted);
        // It still takes connections, and answers on them.
        Assert.Equal(center, await AnsweredAddressAsync(center));
    }

    [Fact]
    public async Task A_peer_that_never_completes_the_TLS_handshake_is_cut_off_after_the_handshake_timeout()
    {
        var (system, center) = await StartCenterAsync(_cluster, "akka.remote.dot-netty.tcp.tls-handshake-timeout = 1s");
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, center.Port);
        // The first bytes of a TLS record header, and then nothing.
        await socket.SendAsync(new byte[] { 0x16, 0x03, 0x01 });

        Assert.True(await TestNetwork.ClosedByPeerAsync(socket, TimeSpan.FromSeconds(30)), "the node kept a connection that never finished its handshake");
        Assert.False(system.WhenTerminated.IsCompleted);
    }

    /// <summary>The address the node at <paramref name="center"/> answers to, asked over a fresh connection (Akka's own association step).</summary>
    private static async Task<HostPort?> AnsweredAddressAsync(HostPort center)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, center.Port);
        using var deadline = new CancellationTokenSource(Slow);
        return await CenterIdentity.AskAsync(tcp.GetStream(), secure: false, (IPEndPoint)tcp.Client.LocalEndPoint!, deadline.Token);
    }
}

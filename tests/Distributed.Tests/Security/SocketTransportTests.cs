using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Distributed.Hosting;
using Distributed.Protocol;
using Distributed.Protocol.Remoting;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Security;

/// <summary>
/// Akka.Remote's transport of ours (<see cref="SocketTransport"/>) in one process: what a peer on the Akka
/// port can make it do. The TLS refusals are in <see cref="TlsActorSystemTests"/>.
/// </summary>
public sealed class SocketTransportTests : IAsyncLifetime
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    private readonly ClusterCredentials _cluster = ClusterCredentials.CreateInMemory();
    private readonly List<ActorSystem> _systems = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Task.WhenAll(_systems.Select(s => s.Terminate()));
        _cluster.Dispose();
    }

    private async Task<(ActorSystem System, HostPort Address)> StartCenterAsync(ClusterCredentials? credentials, string settings = "")
    {
        var center = new HostPort("127.0.0.1", LocalCluster.FreePort());
        var config = ConfigurationFactory.ParseString(settings)
            .WithFallback(ClusterConfig.For(Role.Center, center.Host, center.Port, center, secure: credentials is not null));
        var setup = BootstrapSetup.Create().WithConfig(config);
        var system = credentials is null
            ? ActorSystem.Create(ClusterConfig.SystemName, setup)
            : ActorSystem.Create(ClusterConfig.SystemName, setup.And(new ClusterTlsSetup(credentials)));
        _systems.Add(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        await up.Task.WaitAsync(Slow);
        return (system, center);
    }

    /// <summary>Whether the node closed <paramref name="socket"/>: a read returns 0 (or fails) within <paramref name="within"/>.</summary>
    private static async Task<bool> ClosedByNodeAsync(Socket socket, TimeSpan within)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(within);
        try
        {
            while (await socket.ReceiveAsync(buffer, timeout.Token) > 0) { }
            return true;
        }
        catch (OperationCanceledException) { return false; }
        catch (SocketException) { return true; }
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

        Assert.True(await ClosedByNodeAsync(socket, Slow), "the node kept a connection that announced a 2 GiB frame");
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

        Assert.True(await ClosedByNodeAsync(socket, TimeSpan.FromSeconds(30)), "the node kept a connection that never finished its handshake");
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

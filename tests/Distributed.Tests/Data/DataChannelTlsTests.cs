using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using Distributed.Data;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Data;

/// <summary>Mutual TLS on the data channel: members fetch; no certificate, another cluster's, or plain TCP are refused with a line naming the peer and the reason.</summary>
public sealed class DataChannelTlsTests : IDisposable
{
    private readonly ClusterCredentials _cluster = ClusterCredentials.CreateInMemory();
    private readonly ClusterCredentials _stranger = ClusterCredentials.CreateInMemory();
    private readonly ConcurrentQueue<string> _log = new();

    private DataServer Start(ClusterCredentials credentials, DataChannelSettings? settings = null)
    {
        var store = new DataStore();
        store.Put("secret", new StoredValue([42, 43, 44], "System.Byte[]"));
        return new DataServer("127.0.0.1", store, new TransferCounters(), credentials, settings, _log.Enqueue);
    }

    private Task RefusedAsync(string reason) =>
        Eventually.TrueAsync(() => _log.Any(line => line.Contains("Refused a data connection from 127.0.0.1") && line.Contains(reason)),
            () => $"expected a refusal naming \"{reason}\"; log: [{string.Join(" | ", _log)}]");

    [Fact]
    public async Task A_member_of_the_cluster_fetches_over_TLS()
    {
        await using var server = Start(_cluster);
        using var client = new DataClient(PeerKind.Worker, credentials: _cluster);
        Assert.Equal(new byte[] { 42, 43, 44 }, client.Get(server.Endpoint, ["secret"])[0]!.ToArray());
        Assert.Empty(_log);
    }

    [Fact]
    public async Task A_peer_with_a_certificate_of_another_cluster_is_refused_on_both_sides()
    {
        await using var server = Start(_cluster);
        using var stranger = new DataClient(PeerKind.Client, credentials: _stranger, log: _log.Enqueue);
        var refused = Assert.ThrowsAny<IOException>(() => stranger.Get(server.Endpoint, ["secret"]));
        // The server's certificate does not chain to the stranger's authority either: the stranger says so first.
        Assert.Contains("does not chain", refused.Message);
        Assert.Contains(server.Endpoint.ToString(), refused.Message);

        await using var strangerServer = Start(_stranger);
        using var member = new DataClient(PeerKind.Client, credentials: _cluster);
        Assert.ThrowsAny<IOException>(() => member.Get(strangerServer.Endpoint, ["secret"]));
        await RefusedAsync("does not chain");
    }

    [Fact]
    public async Task A_peer_without_a_certificate_is_refused_and_reads_nothing()
    {
        await using var server = Start(_cluster);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.Endpoint.Port);
#pragma warning disable CA5359 // the test is of the server refusing this client: whom the client accepts does not matter
        using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
#pragma warning restore CA5359
        var read = 0;
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1" });
            tls.Write([0, (byte)'G', 13, 0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, .. "secret"u8]);
            read = await tls.ReadAsync(new byte[64]);
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException) { }
        Assert.Equal(0, read);
        await RefusedAsync("no certificate was presented");
    }

    [Fact]
    public async Task Plain_TCP_to_a_TLS_data_channel_is_refused()
    {
        await using var server = Start(_cluster);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", server.Endpoint.Port);
        await socket.SendAsync(Convert.FromHexString("0047ffffffff"));
        await RefusedAsync("TLS handshake failed");
        using var member = new DataClient(PeerKind.Client, credentials: _cluster);
        Assert.NotNull(member.Get(server.Endpoint, ["secret"])[0]);
    }

    [Fact]
    public async Task A_peer_that_never_completes_the_handshake_is_closed_after_the_handshake_timeout()
    {
        await using var server = Start(_cluster, DataChannelSettings.Default with { HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", server.Endpoint.Port);
        await Eventually.TrueAsync(() => _log.Any(line => line.Contains("no TLS handshake within")), () => $"log: [{string.Join(" | ", _log)}]");
        await Eventually.TrueAsync(() => server.ConnectionCount == 0, () => $"{server.ConnectionCount} connections left");
    }

    public void Dispose()
    {
        _cluster.Dispose();
        _stranger.Dispose();
    }
}

using System.Collections.Concurrent;
using System.Net.Sockets;
using Distributed.Data;

namespace Distributed.Tests.Data;

/// <summary>A data server in this process, over plain TCP on loopback: bad frames, the connection cap and the idle timeout.</summary>
public sealed class DataServerTests
{
    private static readonly byte[] Stored = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();

    private static (DataServer Server, ConcurrentQueue<string> Log) Start(DataChannelSettings? settings = null)
    {
        var store = new DataStore();
        store.Put("big", new StoredValue(Stored, "System.Byte[]"));
        store.Put("small", new StoredValue([1, 2, 3], "System.Int32"));
        var log = new ConcurrentQueue<string>();
        return (new DataServer("127.0.0.1", store, new TransferCounters(), null, settings, log.Enqueue), log);
    }

    private static async Task<Socket> ConnectAsync(DataServer server, byte[]? send = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", server.Endpoint.Port);
        if (send is not null) await socket.SendAsync(send);
        return socket;
    }

    [Fact]
    public async Task A_data_channel_that_refuses_the_connection_is_named_in_the_error()
    {
        // A port nobody listens on: bound, then closed again.
        int port;
        using (var listener = new TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
        using var client = new DataClient(PeerKind.Client);
        var error = await Assert.ThrowsAsync<IOException>(() => client.StatsAsync(new Distributed.Protocol.DataEndpoint("127.0.0.1", port)));
        Assert.Contains($"the data channel at 127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.IsType<SocketException>(error.InnerException);
    }

    private static void AssertServes(DataServer server)
    {
        using var client = new DataClient(PeerKind.Client);
        var values = client.Get(server.Endpoint, ["big", "missing", "small"]);
        Assert.Equal(Stored, values[0]!.ToArray());
        Assert.Null(values[1]);
        Assert.Equal(new byte[] { 1, 2, 3 }, values[2]!.ToArray());
    }

    [Theory]
    [InlineData("00 47 ff ff ff ff")]
    [InlineData("00 47 ff ff ff 7f")]
    [InlineData("00 47 04 00 00 00 ff ff ff 7f")]
    [InlineData("01 47 08 00 00 00 01 00 00 00 ff ff ff 7f")]
    [InlineData("00 47 08 00 00 00 01 00 00 00 80 80 80 80")]
    [InlineData("09")]
    public async Task A_bad_frame_closes_its_connection_with_one_log_line_and_the_server_keeps_serving(string hex)
    {
        var (server, log) = Start();
        await using var _ = server;
        using var socket = await ConnectAsync(server, Convert.FromHexString(hex.Replace(" ", "")));

        Assert.True(await TestNetwork.ClosedByPeerAsync(socket, TimeSpan.FromSeconds(10)), "the server kept the connection of a bad frame open");
        await Eventually.TrueAsync(() => log.Count == 1, () => $"log: [{string.Join(" | ", log)}]");
        Assert.Contains("bad frame", log.Single());
        Assert.Contains("127.0.0.1", log.Single());
        AssertServes(server);
        Assert.Single(log);
    }

    [Fact]
    public async Task A_new_peer_takes_the_place_of_the_least_recently_active_idle_connection()
    {
        var (server, log) = Start(DataChannelSettings.Default with { MaxConnections = 3 });
        await using var _ = server;
        var idle = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            idle.Add(await ConnectAsync(server, [0]));
            await Eventually.TrueAsync(() => server.ConnectionCount == i + 1, () => $"{server.ConnectionCount} connections, expected {i + 1}");
        }

        AssertServes(server);

        Assert.True(await TestNetwork.ClosedByPeerAsync(idle[0], TimeSpan.FromSeconds(10)), "the oldest idle connection was not the one closed");
        Assert.False(await TestNetwork.ClosedByPeerAsync(idle[2], TimeSpan.FromMilliseconds(200)), "the newest idle connection was closed");
        Assert.True(server.ConnectionCount <= 3, $"{server.ConnectionCount} connections open, limit 3");
        Assert.Empty(log);
        foreach (var socket in idle) socket.Dispose();
    }

    [Fact]
    public async Task An_idle_connection_is_closed_after_the_idle_timeout()
    {
        var (server, _) = Start(DataChannelSettings.Default with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        await using var __ = server;
        using var socket = await ConnectAsync(server, [0]);
        Assert.True(await TestNetwork.ClosedByPeerAsync(socket, TimeSpan.FromSeconds(10)), "an idle connection outlived the idle timeout");
        await Eventually.TrueAsync(() => server.ConnectionCount == 0, () => $"{server.ConnectionCount} connections left");
        AssertServes(server);
    }

    [Fact]
    public async Task A_client_whose_pooled_connection_the_server_closed_for_idleness_asks_on_a_new_one()
    {
        var (server, _) = Start(DataChannelSettings.Default with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        await using var __ = server;
        using var client = new DataClient(PeerKind.Client);
        await client.StatsAsync(server.Endpoint);
        // The connection the first request left in the client's pool is closed by the server meanwhile.
        await Eventually.TrueAsync(() => server.ConnectionCount == 0, () => $"{server.ConnectionCount} connections still open");

        var values = await client.GetAsync(server.Endpoint, ["small"]);

        Assert.Equal([1, 2, 3], values.Single()?.ToArray());
    }

    [Fact]
    public async Task Requests_with_more_keys_than_a_frame_holds_are_split_and_answered_in_order()
    {
        var (server, _) = Start(DataChannelSettings.Default with { MaxKeysPerRequest = 2, MaxRequestBytes = 64 });
        await using var _ = server;
        using var client = new DataClient(PeerKind.Worker, settings: DataChannelSettings.Default with { MaxKeysPerRequest = 2, MaxRequestBytes = 64 });
        var keys = Enumerable.Range(0, 9).Select(i => i % 3 == 0 ? "small" : i % 3 == 1 ? "missing" : "big").ToList();
        var values = client.Get(server.Endpoint, keys);
        for (var i = 0; i < keys.Count; i++)
            Assert.Equal(keys[i] == "missing" ? null : keys[i] == "big" ? Stored : [1, 2, 3], values[i]?.ToArray());
    }
}

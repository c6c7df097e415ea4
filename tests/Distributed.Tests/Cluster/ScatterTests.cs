using System.Net.Sockets;
using Distributed.Data;
using Distributed.Protocol;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Scatter (issue 13): local values put on the workers over the data channel, without tasks, owned by
/// the client as its task results are; and named datasets shared between clients.
/// </summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class ScatterTests(LocalClusterFixture fixture)
{
    private static readonly TimeSpan Slow = TimeSpan.FromMinutes(2);

    private Pool Pool => fixture.Pool;

    [Fact]
    public async Task Scattered_values_spread_over_the_workers_read_back_and_are_task_inputs()
    {
        var values = Enumerable.Range(0, 40).Select(i => Enumerable.Range(i, 1_000).ToArray()).ToList();

        var scattered = await Pool.ScatterAsync(values).WaitAsync(Slow);

        Assert.Equal(40, scattered.Select(s => s.Key).Distinct().Count());
        Assert.All(scattered, s => Assert.Equal(FutureStatus.Finished, s.Status));
        // Spread: each worker holds some of them (by the fewest bytes, so about half each).
        var held = Pool.HasWhat();
        var keys = scattered.Select(s => s.Key).ToHashSet();
        Assert.Equal(2, held.Count(h => h.Value.Any(keys.Contains)));
        Assert.All(held.Values, h => Assert.InRange(h.Count(keys.Contains), 10, 30));
        Assert.Equal(values[7], await scattered[7].GetAsync().WaitAsync(Slow));
        Assert.Equal(values, await Pool.GatherAsync(scattered).WaitAsync(Slow));
        var sums = await Pool.MapAsync((int[] xs) => xs.Sum(), scattered).WaitAsync(Slow);
        Assert.Equal(values.Select(v => v.Sum()), await Pool.GatherAsync(sums));
        var both = Pool.Submit((int[] a, int[] b) => a[0] + b[0], scattered[1], scattered[2]);
        Assert.Equal(3, await both.GetAsync().WaitAsync(Slow));
        Pool.Release(scattered);
        Pool.Release(sums);
    }

    [Fact]
    public async Task A_broadcast_value_lands_on_every_worker()
    {
        var table = await Pool.PutAsync(new[] { 3.0, 1.0, 2.0 }, broadcast: true).WaitAsync(Slow);

        var holders = Pool.WhoHas(table);
        Assert.Equal(Pool.Workers().Select(w => w.Name).Order(), holders.Order());
        Assert.Equal(2, holders.Count);
        Assert.Equal(new[] { 3.0, 1.0, 2.0 }, await table.GetAsync().WaitAsync(Slow));
        var read = Pool.Apply((double[] t, int i) => t.Length + i, table, 1);
        Assert.Equal(4, await read.GetAsync().WaitAsync(Slow));
        Pool.Release([table, read]);
    }

    [Fact]
    public async Task The_same_value_scattered_twice_is_one_key_stored_once()
    {
        var payload = Enumerable.Range(0, 5_000).Select(i => (long)i * 7).ToArray();

        var first = await Pool.PutAsync(payload).WaitAsync(Slow);
        var second = await Pool.PutAsync(payload.ToArray()).WaitAsync(Slow);

        Assert.Equal(first.Key, second.Key);
        Assert.Single(Pool.HasWhat().Values.SelectMany(k => k), k => k == first.Key);
        Assert.Equal(payload, await second.GetAsync().WaitAsync(Slow));
        // A caller-named key is that key.
        var named = await Pool.PutAsync("hello", key: "greeting-scatter-test").WaitAsync(Slow);
        Assert.Equal("greeting-scatter-test", named.Key);
        Assert.Equal("hello", named.Get());
        Pool.Release([first, named]);
    }

    [Fact]
    public async Task Releasing_scattered_values_deletes_them_from_the_workers()
    {
        var scattered = await Pool.ScatterAsync(new[] { "a-value-to-release", "another-to-release" }).WaitAsync(Slow);
        var holders = scattered.Select(s => Pool.Workers().Single(w => w.Name == Pool.WhoHas(s).Single())).ToList();
        using var data = new DataClient(PeerKind.Client, credentials: fixture.Cluster.Credentials);
        Assert.NotNull(data.Get(holders[0].Data, [scattered[0].Key])[0]);

        Pool.Release(scattered);

        await Eventually.TrueAsync(() => scattered.Select((s, i) => data.Get(holders[i].Data, [s.Key])[0]).All(v => v is null),
            () => "a released scattered value is still stored on its worker");
        await Assert.ThrowsAsync<DataLostException>(() => scattered[0].GetAsync().WaitAsync(Slow));
    }

    [Fact]
    public async Task Another_clients_named_key_is_refused_with_a_clear_error()
    {
        var mine = await Pool.PutAsync(41, key: "owned-scatter-key").WaitAsync(Slow);
        await using var other = await fixture.Cluster.ConnectAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => other.PutAsync(99, key: "owned-scatter-key")).WaitAsync(Slow);

        Assert.Contains("owned-scatter-key", error.Message);
        Assert.Contains("another client", error.Message);
        Assert.Equal(41, await mine.GetAsync().WaitAsync(Slow));
        Pool.Release([mine]);
    }

    [Fact]
    public async Task Bad_puts_leave_the_worker_alive_and_store_nothing()
    {
        var worker = Pool.Workers()[0];
        var endpoint = worker.Data;
        // Unauthenticated: a plain TCP peer never gets past the TLS handshake.
        using (var stranger = new TcpClient())
        {
            await stranger.ConnectAsync(endpoint.Host, endpoint.Port);
            var stream = stranger.GetStream();
            await stream.WriteAsync(PutFrame(7, "stranger-key", 4, [1, 2, 3, 4]));
            var buffer = new byte[64];
            // The server answers nothing a put would expect: it ends the connection (or sends a TLS alert).
            var read = await ReadSomeAsync(stream, buffer);
            Assert.True(read == 0 || buffer[0] != DataFrames.PutStored, "a plain TCP peer got a put answered");
        }
        // A member that lies: a length longer than what it sends, then hangs up; and a truncated frame.
        using (var liar = new DataClient(PeerKind.Client, credentials: fixture.Cluster.Credentials))
        {
            await SendRawAsync(endpoint, PutFrame(8, "liar-key", 64L << 20, new byte[1000]));
            await SendRawAsync(endpoint, PutFrame(9, "cut-key", 4, [1, 2, 3, 4])[..12]);
            await SendRawAsync(endpoint, [(byte)'P', 0xff, 0xff, 0xff, 0x7f]);
            // A put the center never planned: stored by the worker, then deleted as the center refuses it.
            Assert.Null(liar.Put(endpoint, 987_654, [new("unplanned-key", new StoredValue([1, 2, 3], "System.Byte[]"))]));
            await Eventually.TrueAsync(() => liar.Get(endpoint, ["unplanned-key"])[0] is null, () => "an unplanned put is still stored");
            Assert.Null(liar.Get(endpoint, ["liar-key"])[0]);
            Assert.Null(liar.Get(endpoint, ["cut-key"])[0]);
        }
        Assert.Contains(Pool.Workers(), w => w.Name == worker.Name);
        var after = await Pool.ScatterAsync(Enumerable.Range(0, 10)).WaitAsync(Slow);
        Assert.Equal(Enumerable.Range(0, 10), await Pool.GatherAsync(after).WaitAsync(Slow));
        Pool.Release(after);
    }

    [Fact]
    public async Task A_dataset_published_by_one_client_is_read_and_computed_on_by_another_after_the_first_left()
    {
        var publisher = await fixture.Cluster.ConnectAsync();
        var parts = await publisher.ScatterAsync(new[] { new[] { 1, 2 }, new[] { 3, 4, 5 } }).WaitAsync(Slow);
        var doubled = await publisher.MapAsync((int[] p) => p.Select(x => x * 2).ToArray(), parts).WaitAsync(Slow);
        await publisher.PublishAsync("scatter-test-set", [.. parts, .. doubled]).WaitAsync(Slow);
        Assert.Contains("scatter-test-set", Pool.ListDatasets());
        await Assert.ThrowsAsync<InvalidOperationException>(() => publisher.PublishAsync("scatter-test-set", parts)).WaitAsync(Slow);

        var got = await Pool.GetDatasetAsync<int[]>("scatter-test-set").WaitAsync(Slow);
        publisher.Release(parts);
        await publisher.DisposeAsync();

        Assert.Equal(parts.Concat(doubled).Select(p => p.Key), got.Select(g => g.Key));
        Assert.Equal([[1, 2], [3, 4, 5], [2, 4], [6, 8, 10]], await Pool.GatherAsync(got).WaitAsync(Slow));
        var total = Pool.Apply((IReadOnlyList<int[]> ps) => ps.Sum(p => p.Sum()), got);
        Assert.Equal(45, await total.GetAsync().WaitAsync(Slow));
        Pool.Release([total]);
        Pool.Release(got);
        var again = await Pool.GetDatasetAsync<int[]>("scatter-test-set").WaitAsync(Slow);
        Assert.Equal(new[] { 1, 2 }, again[0].Get());
    }

    [Fact]
    public async Task Unpublishing_a_dataset_nobody_holds_deletes_its_values_from_the_workers()
    {
        var publisher = await fixture.Cluster.ConnectAsync();
        var value = await publisher.PutAsync("kept-by-the-dataset").WaitAsync(Slow);
        var holder = publisher.Workers().Single(w => w.Name == publisher.WhoHas(value).Single());
        publisher.Publish("scatter-unpublish-set", value);
        await publisher.DisposeAsync(); // gone: only the dataset keeps it now
        using var data = new DataClient(PeerKind.Client, credentials: fixture.Cluster.Credentials);
        Assert.NotNull(data.Get(holder.Data, [value.Key])[0]);

        await Pool.UnpublishAsync("scatter-unpublish-set").WaitAsync(Slow);

        await Eventually.TrueAsync(() => data.Get(holder.Data, [value.Key])[0] is null, () => "an unpublished value nobody holds is still stored");
        Assert.DoesNotContain("scatter-unpublish-set", Pool.ListDatasets());
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Pool.GetDatasetAsync<string>("scatter-unpublish-set")).WaitAsync(Slow);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Pool.UnpublishAsync("scatter-unpublish-set")).WaitAsync(Slow);
    }

    /// <summary>A Put frame with one entry announcing <paramref name="length"/> bytes, then <paramref name="sent"/>.</summary>
    private static byte[] PutFrame(long scatterId, string key, long length, byte[] sent)
    {
        var frame = new MemoryStream();
        DataFrames.EncodePut(scatterId, [new PutEntry(key, "System.Byte[]", length)], DataChannelSettings.Default, frame);
        frame.Write(sent);
        return frame.ToArray();
    }

    /// <summary>Opens an authenticated connection as a client, writes <paramref name="bytes"/> and hangs up.</summary>
    private async Task SendRawAsync(DataEndpoint endpoint, byte[] bytes)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint.Host, endpoint.Port);
        Stream stream = tcp.GetStream();
        if (fixture.Cluster.Credentials is { } credentials)
        {
            var tls = new System.Net.Security.SslStream(stream);
            var options = credentials.ClientOptions(endpoint.Host);
            await tls.AuthenticateAsClientAsync(options);
            stream = tls;
        }
        await using (stream)
        {
            stream.WriteByte((byte)PeerKind.Client);
            await stream.WriteAsync(bytes);
            await stream.FlushAsync();
        }
    }

    private static async Task<int> ReadSomeAsync(Stream stream, byte[] buffer)
    {
        try { return await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30)); }
        catch (IOException) { return 0; }
    }
}
